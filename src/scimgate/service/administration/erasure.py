"""Erasing a user's personal data on request (``scimgate users purge``).

What stays is what an audit needs and nothing that names the person: event
envelopes (ids, types, times) with the user reduced to its id, and the
offboarding records' times. The tombstone goes.
"""

from contextlib import suppress
from typing import Any

from scim2_models import NotFoundException
from sqlalchemy import Engine

from scimgate.records import frozen
from scimgate.scim.limits import Limits
from scimgate.scim.normalized import DirectoryUser, UserState
from scimgate.service.directories import existing_directory
from scimgate.service.errors import Conflict, UnknownUser
from scimgate.service.event_stream.payloads import user_json
from scimgate.service.provisioning import users
from scimgate.service.provisioning.scope import Scope
from scimgate.store import erasure, offboarding
from scimgate.store.resource_tables import USERS
from scimgate.store.transactions import reading, writing


class StillActive(Conflict):
    """The user is active in the directory: the IdP would provision it again."""


@frozen
class Purged:
    user_id: str
    deleted_now: bool
    """The user was inactive and still stored: it was deleted first (``user.deleted``)."""

    events_redacted: int


def erased_user(user_id: str) -> DirectoryUser:
    """What remains of an erased user in event payloads: its id."""
    return DirectoryUser(
        id=user_id,
        idp_id=None,
        username="",
        primary_email=None,
        emails=[],
        undeliverable_emails=[],
        first_name=None,
        last_name=None,
        display_name=None,
        job_title=None,
        department=None,
        manager_id=None,
        state=UserState.deleted,
        groups=[],
        roles=[],
        custom_attributes={},
        raw={},
    )


def purge_user(engine: Engine, directory_id: str, user_id: str) -> Purged:
    """Erase a deleted or deactivated user's personal data from the directory and its events."""
    with reading(engine) as conn:
        directory = existing_directory(conn, directory_id)
        stored = USERS.get(conn, directory_id, user_id)
        buried = offboarding.tombstone(conn, directory_id, user_id)
    if stored is None and buried is None:
        raise UnknownUser(directory_id, user_id)
    if stored is not None:
        if stored.doc.get("active") is not False:
            raise StillActive(
                f"user {user_id} is active: deprovision it in the identity provider first, "
                "or the next sync provisions it again"
            )
        scope = Scope(engine, directory, f"/scim/v2/{directory_id}", Limits())
        # Deleted by the IdP meanwhile: the tombstone is there now.
        with suppress(NotFoundException):
            users.delete_user(scope, user_id, None)
    erased = user_json(erased_user(user_id))
    with writing(engine) as conn:
        redacted = erasure.rewrite_payloads(
            conn, directory_id, user_id, lambda data: _without_person(data, erased)
        )
        offboarding.remove_tombstone(conn, directory_id, user_id)
        offboarding.forget_user_name(conn, directory_id, user_id)
    return Purged(user_id, stored is not None, redacted)


def _without_person(data: dict[str, Any], erased: dict[str, Any]) -> dict[str, Any]:
    """An event payload with the user reduced to its id and no previous values."""
    if "user" in data and data["user"] is not None:
        data["user"] = erased
    if "deprovisioning" in data:
        data["deprovisioning"] = {**data["deprovisioning"], "user_name": None}
    if "previous_attributes" in data:
        data["previous_attributes"] = {}
    return data
