"""Use cases on users: provision, read, replace, patch, deprovision."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from scim2_models import PatchOp, UniquenessException
from sqlalchemy import Connection

from scimgate.events.diff import previous_attributes
from scimgate.events.models import DeprovisionReason
from scimgate.scim.compare import fold
from scimgate.scim.documents import ScimDocument
from scimgate.scim.etag import check_if_match
from scimgate.scim.tolerance import apply_patch, settle_manager
from scimgate.scim.user_patches import Assignment, patched_document
from scimgate.scim.values import settled_user
from scimgate.service.administration import roles
from scimgate.service.event_stream.changes import UnitOfWork, user_created_alone
from scimgate.service.event_stream.payloads import user_json
from scimgate.service.provisioning import confirmations
from scimgate.service.provisioning.directory_config import DirectoryConfig, kept_config
from scimgate.service.provisioning.existing import existing
from scimgate.service.provisioning.representation import document, user_document, user_resource
from scimgate.service.provisioning.scope import Scope
from scimgate.service.provisioning.scoped_changes import changing_in
from scimgate.store import membership_lists, memberships, offboarding, published_inserts
from scimgate.store import roles as stored_roles
from scimgate.store.errors import Conflict, Uniqueness
from scimgate.store.event_subjects import user_to_change
from scimgate.store.ids import new_id, utcnow
from scimgate.store.membership_lists import Membership
from scimgate.store.name_lookups import user_name_holder, user_names_held_by_index
from scimgate.store.resource_tables import GROUPS, USERS
from scimgate.store.stored_resources import StoredResource
from scimgate.store.transactions import reading


def create_user(scope: Scope, user: Any) -> ScimDocument:
    """Provision a user (POST /Users) from its model: see :func:`create_user_document`."""
    return create_user_document(scope, document(user))


def create_user_document(scope: Scope, doc: dict[str, Any]) -> ScimDocument:
    """Provision a user from the document to store, settled as :func:`document` leaves what
    it makes of a model and ``scim.creation.read_creation`` what it reads of a body
    (``scim.values.settled_user``): it is not settled again.

    Its userName must be free in the directory. The row, the ``user.created``
    event and the answer are all made from ``doc``: nothing is read back or
    validated again. A new user is in no group, so its roles are the ``default``
    rule's, if the directory has one.

    Where the database's unique index alone keeps userNames unique, the insert
    is not preceded by a lookup: a taken userName fails it, and its holder is
    read only then, for the answer. On PostgreSQL the row and its event are
    most often one statement (:func:`_config_of_a_lone_insert`).
    """
    stored = StoredResource.new(new_id(), doc, utcnow())
    with _unique_user_name(doc["userName"], scope):
        alone = _config_of_a_lone_insert(scope)
        if alone is not None:
            user_created_alone(scope.engine, alone, stored)
            return user_document(scope, stored, [])
        with changing_in(scope) as work:
            conn = work.conn
            config = work.builder.config
            if not user_names_held_by_index(conn):
                _check_user_name_free(conn, scope, doc["userName"], None)
            USERS.insert(conn, scope.directory_id, stored)
            first_roles = roles.effective_roles(config.rules, [])
            if first_roles:
                stored_roles.store_roles(conn, scope.directory_id, {stored.id: first_roles})
            work.user_created(stored, first_roles)
    return user_document(scope, stored, [])


def _config_of_a_lone_insert(scope: Scope) -> DirectoryConfig | None:
    """The directory's configuration when a new user's row and event can be written as one
    statement (``store.published_inserts``): on PostgreSQL without encryption at rest, the
    directory confirmed by the request and its configuration kept by this process, which
    gives a new user no roles (no other row to write)."""
    if scope.confirmed_stamp is None or not published_inserts.available(scope.engine):
        return None
    config = kept_config(scope.engine, scope.directory)
    if config is None or roles.effective_roles(config.rules, []):
        return None
    return config


def get_user(scope: Scope, user_id: str) -> ScimDocument:
    with reading(scope.engine) as conn:
        stored = existing(USERS, conn, scope.directory_id, user_id, for_update=False)
        groups = membership_lists.groups_of(conn, scope.directory_id, [user_id])[user_id]
    confirmations.confirm_seen(scope, USERS, [stored])
    return user_document(scope, stored, groups)


def replace_user(
    scope: Scope, user_id: str, replacement: Any, if_match: str | None
) -> ScimDocument:
    """Replace a user's attributes (PUT); read-only and unchanged immutable values are kept."""
    with (
        _unique_user_name(replacement.user_name),
        changing_in(scope) as work,
    ):
        conn = work.conn
        stored = existing(USERS, conn, scope.directory_id, user_id, for_update=True)
        check_if_match(if_match, stored.version)
        groups = membership_lists.groups_of(conn, scope.directory_id, [user_id])[user_id]
        current = user_resource(scope, stored, groups)
        replacement.replace(current)
        stored = _save_if_changed(work, scope, stored, document(replacement), groups)
        confirmations.confirm_in(conn, scope, USERS, [stored])
    return user_document(scope, stored, groups)


def replace_user_document(
    scope: Scope, user_id: str, doc: dict[str, Any], if_match: str | None
) -> ScimDocument:
    """What :func:`replace_user` does with a canonical body, without building the user's model.

    ``doc`` is the document the replacement stores (:mod:`scimgate.scim.replacement`); the
    event and the answer are made from it, as a creation makes them.
    """
    return _store_document(scope, user_id, if_match, lambda _: doc)


def patch_user(
    scope: Scope, user_id: str, patch: PatchOp[Any], if_match: str | None
) -> ScimDocument:
    """Apply PATCH operations to a user, all of them or none."""
    with changing_in(scope) as work:
        conn = work.conn
        stored = existing(USERS, conn, scope.directory_id, user_id, for_update=True)
        check_if_match(if_match, stored.version)
        groups = membership_lists.groups_of(conn, scope.directory_id, [user_id])[user_id]
        user = user_resource(scope, stored, groups)
        apply_patch(patch, user)
        settle_manager(user, scope.users_url)
        with _unique_user_name(user.user_name):
            stored = _save_if_changed(work, scope, stored, document(user), groups)
        confirmations.confirm_in(conn, scope, USERS, [stored])
    return user_document(scope, stored, groups)


def patch_user_document(
    scope: Scope, user_id: str, assignments: Sequence[Assignment], if_match: str | None
) -> ScimDocument:
    """Apply a PATCH that only sets single values (:mod:`scimgate.scim.user_patches`) to a user.

    What :func:`patch_user` does with the same request, without building the
    user's model: the new document is the stored one with the values set, and
    the event and the answer are made from it, as a creation makes them.
    """
    return _store_document(
        scope,
        user_id,
        if_match,
        lambda stored: settled_user(patched_document(stored.doc, assignments, scope.users_url)),
    )


def _store_document(
    scope: Scope,
    user_id: str,
    if_match: str | None,
    new_document: Callable[[StoredResource], dict[str, Any]],
) -> ScimDocument:
    """Store the document ``new_document`` makes of the user's stored row, and answer the
    user: the one-pass ways of a PUT and a PATCH."""
    with changing_in(scope) as work:
        conn = work.conn
        known = user_to_change(conn, scope.directory_id, user_id)
        if known is None:
            stored = existing(USERS, conn, scope.directory_id, user_id, for_update=True)
            groups = membership_lists.groups_of(conn, scope.directory_id, [user_id])[user_id]
            user_roles = None
        else:
            stored, user_roles, rows = known
            groups = [Membership(*row) for row in rows]
        check_if_match(if_match, stored.version)
        doc = new_document(stored)
        with _unique_user_name(doc["userName"]):
            stored = _save_if_changed(work, scope, stored, doc, groups, user_roles=user_roles)
        confirmations.confirm_in(conn, scope, USERS, [stored])
    return user_document(scope, stored, groups)


def deactivate_user(scope: Scope, user_id: str, reason: DeprovisionReason) -> None:
    """Set a user's ``active`` to false for ``reason``, as a pulled directory's sync does
    for someone who left its scope; an inactive user stays as it is."""
    with changing_in(scope) as work:
        conn = work.conn
        stored = existing(USERS, conn, scope.directory_id, user_id, for_update=True)
        groups = membership_lists.groups_of(conn, scope.directory_id, [user_id])[user_id]
        _save_if_changed(work, scope, stored, {**stored.doc, "active": False}, groups, reason)


def delete_user(scope: Scope, user_id: str, if_match: str | None) -> None:
    """Delete a user and its memberships; the groups it left change version.

    The user's last state stays behind as a tombstone, and in the ``user.deleted`` event.
    """
    with changing_in(scope) as work:
        conn = work.conn
        stored = existing(USERS, conn, scope.directory_id, user_id, for_update=True)
        check_if_match(if_match, stored.version)
        now = utcnow()
        last_state = work.builder.deleted_user(user_id)
        for group_id in memberships.remove_member_everywhere(conn, scope.directory_id, user_id):
            GROUPS.touch(conn, scope.directory_id, group_id, now)
            work.membership_changed(group_id, user_id, "User", added=False)
        USERS.delete(conn, scope.directory_id, user_id)
        work.user_deleted(last_state)
        offboarding.bury(
            conn,
            scope.directory_id,
            user_id,
            stored.doc["userName"],
            stored.doc.get("externalId"),
            user_json(last_state),
            now,
        )


def _save_if_changed(
    work: UnitOfWork,
    scope: Scope,
    stored: StoredResource,
    doc: dict[str, Any],
    groups: list[Membership],
    reason: DeprovisionReason = DeprovisionReason.deactivated,
    *,
    user_roles: list[str] | None = None,
) -> StoredResource:
    """Store a new state; a write that changes nothing keeps the version and emits nothing.

    A caller that read the user's stored roles passes them, saving their read."""
    if doc == stored.doc:
        return stored
    if fold(doc["userName"]) != fold(stored.doc["userName"]):
        _check_user_name_free(work.conn, scope, doc["userName"], stored.id)
    before = work.builder.state_of(stored.doc, groups)
    updated = stored.evolved(doc, utcnow())
    USERS.replace(work.conn, scope.directory_id, stored.doc, updated)
    work.user_changed(
        stored.id,
        before=before,
        previous_attributes=previous_attributes(stored.doc, doc),
        reason=reason,
        stored=updated,
        groups=groups,
        user_roles=user_roles,
    )
    return updated


def _check_user_name_free(
    conn: Connection, scope: Scope, user_name: str, except_id: str | None
) -> None:
    holder = user_name_holder(conn, scope.directory_id, user_name)
    if holder is not None and holder != except_id:
        raise _taken(user_name, holder)


def _taken(user_name: str, holder: str | None) -> UniquenessException:
    by = f"user {holder}" if holder else "another user"
    return UniquenessException(
        detail=f"userName {user_name!r} already belongs to {by} in this directory "
        "(userName is unique regardless of case)"
    )


class _unique_user_name:
    """Turn a uniqueness race lost in the database into the same 409 as a checked conflict.

    Given the ``scope``, the holder is read (once the failed transaction has ended) for
    the answer to name it, as a checked conflict does. A class rather than a generator's
    context manager, which costs about two microseconds more, as every create enters one.
    """

    __slots__ = ("_scope", "_user_name")

    def __init__(self, user_name: str | None, scope: Scope | None = None) -> None:
        self._user_name = user_name
        self._scope = scope

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        if not isinstance(exc, Conflict) or exc.uniqueness is not Uniqueness.USER_NAME:
            return
        user_name, scope, holder = self._user_name, self._scope, None
        if scope is not None and user_name is not None:
            with reading(scope.engine) as conn:
                holder = user_name_holder(conn, scope.directory_id, user_name)
        raise _taken(user_name or "", holder) from None
