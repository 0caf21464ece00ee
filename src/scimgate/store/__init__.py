"""Persistence: SQLAlchemy Core on SQLite and PostgreSQL, every function scoped by directory.

Statements run on every SCIM request are built once, at import, with bound
parameters (``_ROLES_OF``, ``_GROUPS_OF``…): building a statement costs
SQLAlchemy more than running a cached one, and a provisioning burst runs them
tens of thousands of times. The rest are built where they are used.
"""
