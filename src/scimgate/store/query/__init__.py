"""The SQL of a resource listing: SCIM filters as WHERE conditions, ``sortBy`` as ORDER BY.

- ``filters``: a filter translated to one condition (``filter_clause``);
- ``sealed``: the same filter translated again for encrypted rows (``sealed_condition``);
- ``sorting``: ``sortBy`` as ORDER BY terms (``ordering``, ``check_sortable``);
- ``membership``: filters on a user's ``groups`` and a group's ``members``;
- ``conditions``: comparisons, presence and negation, shared by the translators;
- ``attributes``: where an attribute is read from, a column or the stored document;
- ``constructs``: the SQL those need, compiled for SQLite and PostgreSQL.
"""
