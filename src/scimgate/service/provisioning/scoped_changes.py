"""A SCIM request's change: one unit of work in the request's directory."""

from contextlib import AbstractContextManager

from scimgate.service.event_stream.changes import UnitOfWork, changing
from scimgate.service.provisioning.directory_config import Confirmed
from scimgate.service.provisioning.scope import Scope


def changing_in(scope: Scope) -> AbstractContextManager[UnitOfWork]:
    """The unit of work of a change the request makes, given the directory as the request
    confirmed it when it did (``Scope.confirmed_stamp``), so that the transaction need not
    read it (``directory_config``)."""
    stamp = scope.confirmed_stamp
    known = None if stamp is None else Confirmed(scope.directory, stamp)
    return changing(scope.engine, scope.directory_id, known)
