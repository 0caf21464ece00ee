"""What every SCIM use case runs within: one directory, reached through one base URL."""

from sqlalchemy import Engine

from scimgate.records import cached_property, frozen
from scimgate.scim.extensions import ResourceModels
from scimgate.scim.limits import Limits
from scimgate.service.provisioning.directory_models import directory_models
from scimgate.store.tenants import Directory


@frozen
class Site:
    """A directory and where its SCIM API lives: the models its resources are built with,
    and the base URL they are located under.

    :mod:`scimgate.service.provisioning.representation` needs no more than this; event
    payloads, which answer no request, are built with a site of their own.
    """

    engine: Engine
    directory: Directory
    base_url: str
    """The SCIM base URL of the directory, without a trailing slash."""

    @property
    def directory_id(self) -> str:
        return self.directory.id

    @cached_property
    def models(self) -> ResourceModels:
        """The models of this directory's users and groups, with its registered extensions."""
        return directory_models(self.engine, self.directory)

    @property
    def users_url(self) -> str:
        return f"{self.base_url}/Users"

    def location(self, endpoint: str, resource_id: str) -> str:
        return f"{self.base_url}/{endpoint}/{resource_id}"


@frozen
class Scope(Site):
    """The directory a request was authenticated for, where its SCIM API lives, and the
    protocol limits its requests are held to.

    The SCIM use cases (``users``, ``groups``, ``bulk``, ``listing``,
    ``key_lookups``...) take one, and every resource they read or write in the
    store is named with the scope's directory id: a SCIM request has no way to
    reach a resource of another directory. Most other service functions
    (administration, the portal, delivery, maintenance) take an ``Engine`` and,
    where they need one, a directory id.
    """

    limits: Limits
    confirmed_stamp: int | None = None
    """The directory's credential stamp at which ``directory`` is the row as the database
    held it, when the stamp read for the request confirmed it
    (:mod:`scimgate.service.provisioning.credentials`); None when nothing did."""
