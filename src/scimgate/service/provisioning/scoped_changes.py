"""A SCIM request's change: one unit of work in the request's directory."""

from contextlib import AbstractContextManager

from scimgate.service.event_stream.changes import UnitOfWork, changing
from scimgate.service.provisioning.scope import Scope


def changing_in(scope: Scope) -> AbstractContextManager[UnitOfWork]:
    """The unit of work of a change the request makes, given the directory as the request
    confirmed it when it did (``Scope.confirmed``), so that the transaction need not read it
    (``directory_config``)."""
    return changing(scope.engine, scope.directory_id, scope.directory if scope.confirmed else None)
