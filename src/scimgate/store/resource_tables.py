"""The tables of SCIM resources: ``USERS`` and ``GROUPS``, each its reads and its writes."""

from scimgate.store.resource_columns import group_columns, user_columns
from scimgate.store.resource_reads import ResourceReads
from scimgate.store.resource_writes import ResourceWrites
from scimgate.store.tables.resources import groups, users


class ResourceTable(ResourceReads, ResourceWrites):
    """One resource type's rows: the document plus its indexed columns."""


USERS = ResourceTable("user", users, user_columns)
GROUPS = ResourceTable("group", groups, group_columns)
