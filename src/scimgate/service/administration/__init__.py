"""Administering tenants: organizations, directories and tokens, mappings and roles, admin
keys and the audit log, setup links, transfer, erasure, encryption, and the normalized
view the app reads."""
