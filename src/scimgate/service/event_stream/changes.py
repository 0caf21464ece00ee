"""Recording changes as events, in the transaction that makes them (a transactional outbox).

A use case that changes a directory runs in :func:`changing`, which hands it a
:class:`UnitOfWork`: the transaction's connection, and the methods that record
its changes. Each change is recorded with its payload, built from the
transaction's own view of the data, so the event shows the resource as it
stands after the change. When the use case ends without error, the events are
published (or held back by the safety valve) in the same transaction, just
before it commits: no change without its event, no event without its change.
A helper that records changes takes the unit of work, not a bare connection, so
that only code running inside :func:`changing` can record one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import field, replace
from typing import Any

from sqlalchemy import Connection, Engine

from scimgate.events.encoding import encoded
from scimgate.events.models import (
    DeprovisionReason,
    DirectoryData,
    EventType,
    GroupData,
    MembershipData,
    UserData,
)
from scimgate.records import cached_property, frozen
from scimgate.scim.normalized import DirectoryGroup, DirectoryUser, UserState
from scimgate.service.event_stream import publishing
from scimgate.service.event_stream.payloads import PayloadBuilder, UserFacts, directory_info
from scimgate.service.provisioning.directory_config import (
    Confirmed,
    DirectoryConfig,
    directory_config,
)
from scimgate.store import published_inserts
from scimgate.store.events import NewEvent
from scimgate.store.ids import new_id, utcnow
from scimgate.store.membership_lists import Membership
from scimgate.store.resource_tables import USERS
from scimgate.store.stored_resources import StoredResource
from scimgate.store.tenants import Directory
from scimgate.store.transactions import one_statement_writing, writing


@frozen
class MemberMove:
    """A membership row added or removed by a request."""

    member_id: str
    member_type: str
    added: bool
    before: UserFacts | None = field(default=None, compare=False)
    """A user added, as it was read just before it joined, where the add read it so."""


@frozen
class UnitOfWork:
    """One writing transaction on one directory, and the changes it has recorded so far.

    :func:`changing` makes one. Store calls take :attr:`conn`; each recording method
    appends events, in the order they are recorded, to be published when it ends.
    """

    conn: Connection
    directory_id: str
    known: Confirmed | None = None
    """The directory as the request confirmed it, if it did (``scoped_changes.changing_in``)."""
    _recorded: list[publishing.Recorded] = field(default_factory=list, init=False, repr=False)

    @cached_property
    def builder(self) -> PayloadBuilder:
        """The payload builder of this transaction.

        The first use reads the directory row (not when the request confirmed it,
        :attr:`known`: on SQLite its stamp is read instead), and its configuration where
        this process does not have it at the row's stamp
        (:mod:`scimgate.service.provisioning.directory_config`).
        Publishing takes the directory from it (on SQLite, without reading it again): a
        use case that changes the directory row has it read again
        (:meth:`PayloadBuilder.reread_directory`).
        """
        return PayloadBuilder(self.conn, directory_config(self.conn, self.directory_id, self.known))

    def user_changed(
        self,
        user_id: str,
        *,
        before: UserState,
        previous_attributes: dict[str, Any],
        reason: DeprovisionReason = DeprovisionReason.deactivated,
        stored: StoredResource | None = None,
        groups: list[Membership] | None = None,
        user_roles: list[str] | None = None,
    ) -> None:
        """A user's attributes or assignment changed: updated, deactivated or reactivated.

        ``before`` is the user's state before the change; the event type follows
        from how the state moved. A caller holding the user's new row, its
        memberships or its stored roles passes them, saving their reads.
        """
        user = self.builder.user(user_id, stored=stored, groups=groups, user_roles=user_roles)
        self._user_changed(user, before, previous_attributes, reason)

    def _user_changed(
        self,
        user: DirectoryUser,
        before: UserState,
        previous_attributes: dict[str, Any],
        reason: DeprovisionReason = DeprovisionReason.deactivated,
    ) -> None:
        """What :meth:`user_changed` records, for a user already built."""
        active_now = user.state == UserState.active
        if before == UserState.active and not active_now:
            kind, data = EventType.user_deactivated, UserData(user=user, reason=reason)
        elif before == UserState.inactive and active_now:
            kind, data = EventType.user_reactivated, UserData(user=user)
        elif previous_attributes:
            kind, data = EventType.user_updated, UserData(user=user)
        else:
            return
        data.previous_attributes = previous_attributes
        self._append(kind, user.id, data)

    def user_created(self, stored: StoredResource, user_roles: list[str] | None = None) -> None:
        """A user was provisioned (``stored`` is its new row; it belongs to no group yet).

        A caller that computed its first roles passes them, saving their read.
        """
        user = self.builder.user(stored.id, stored=stored, groups=[], user_roles=user_roles)
        self._append(EventType.user_created, stored.id, UserData(user=user))

    def user_deleted(self, last_state: DirectoryUser) -> None:
        """A user was deleted; ``last_state`` was read before its row went."""
        data = UserData(user=last_state, reason=DeprovisionReason.deleted)
        self._append(EventType.user_deleted, last_state.id, data)

    def roles_changed(
        self, previous_roles: dict[str, list[str]], facts: dict[str, UserFacts] | None = None
    ) -> None:
        """These users' roles changed (``previous_roles`` by user id): one event each.

        ``facts`` holds what the caller knows of them, their new roles included.
        """
        users = self.builder.users(list(previous_roles), facts)
        for user_id, user in users.items():
            data = UserData(user=user, previous_roles=previous_roles[user_id])
            self._append(EventType.user_roles_changed, user_id, data)

    def group_changed(
        self,
        kind: EventType,
        group_id: str,
        previous_attributes: dict[str, Any] | None = None,
        *,
        stored: StoredResource | None = None,
    ) -> None:
        """``group.created``, ``group.updated``, or (before its row goes) ``group.deleted``.

        A caller holding the group's row as it now stands passes it.
        """
        group = self.builder.group(group_id, stored)
        data = GroupData(group=group, previous_attributes=previous_attributes or {})
        self._append(kind, group_id, data)

    def memberships_changed(
        self, group_id: str, moves: Sequence[MemberMove], *, stored: StoredResource | None = None
    ) -> dict[str, UserFacts]:
        """Members joined or left a group, in this order: one event each, as
        :meth:`membership_changed` records it. Returns what was read of the users among them.

        The group (unless ``stored`` holds its row as it now stands) is read once
        and the members in batches, so that a change of thousands of members costs
        a few statements per batch rather than several per member.
        """
        if not moves:
            return {}
        build = self.builder
        group = build.group(group_id, stored)
        facts = _joined(group, moves)
        unknown = [user_id for user_id in _ids_of(moves, "User") if user_id not in facts]
        if unknown:
            facts |= build.user_facts(unknown)
        users = build.users(list(facts), facts)
        groups = build.groups(_ids_of(moves, "Group"))
        for move in moves:
            if move.member_type == "User":
                kind = EventType.group_user_added if move.added else EventType.group_user_removed
                data = MembershipData(group=group, user=users[move.member_id])
            else:
                kind = EventType.group_group_added if move.added else EventType.group_group_removed
                data = MembershipData(group=group, member_group=groups[move.member_id])
            self._append(kind, move.member_id, data)
        return facts

    def membership_changed(
        self, group_id: str, member_id: str, member_type: str, *, added: bool
    ) -> None:
        """A member joined or left a group; the event is filed under the member's id.

        Filing it under the member makes it part of the user's history, and of
        what erasing the user's personal data redacts.
        """
        build = self.builder
        group = build.group(group_id)
        if member_type == "User":
            kind = EventType.group_user_added if added else EventType.group_user_removed
            data = MembershipData(group=group, user=build.user(member_id))
        else:
            kind = EventType.group_group_added if added else EventType.group_group_removed
            data = MembershipData(group=group, member_group=build.group(member_id))
        self._append(kind, member_id, data)

    def assignment_changed(
        self,
        group_id: str,
        user_ids: Sequence[str],
        *,
        joined: bool,
        facts: dict[str, UserFacts] | None = None,
    ) -> None:
        """Users joined or left a group: if it is the assignment group, they gain or lose access.

        ``facts`` holds what the caller knows of them as they now stand.
        """
        build = self.builder
        if build.directory.assignment_group != group_id:
            return
        for user in build.users(user_ids, facts).values():
            if joined:
                self._user_changed(user, UserState.inactive, {})
            else:
                was_active = user.raw.get("active") is not False
                before = UserState.active if was_active else UserState.inactive
                self._user_changed(user, before, {}, DeprovisionReason.unassigned)

    def directory_changed(self, kind: EventType) -> None:
        info = directory_info(self.builder.directory)
        self._append(kind, self.directory_id, DirectoryData(directory=info))

    def _append(self, kind: EventType, resource_id: str, data: Any) -> None:
        event = _new_event(self.builder.directory, kind, resource_id, data)
        self._recorded.append(publishing.Recorded(event, data))

    def _publish(self) -> None:
        """Publish (or hold) what was recorded, with the directory as the builder last saw it."""
        if self._recorded:
            seen = {self.directory_id: self.builder.directory}
            publishing.publish_recorded(self.conn, self._recorded, seen)


def _new_event(directory: Directory, kind: EventType, resource_id: str, data: Any) -> NewEvent:
    return NewEvent(
        id=new_id(),
        organization_id=directory.organization_id,
        directory_id=directory.id,
        type=kind.value,
        resource_id=resource_id,
        occurred_at=utcnow(),
        data=encoded(data),
    )


def _joined(group: DirectoryGroup, moves: Sequence[MemberMove]) -> dict[str, UserFacts]:
    """The users a request only added to ``group`` (one move each), as they now stand,
    derived from how each was read before it joined: the group is added to its groups,
    in the order they are read in (by id), as the request left the group."""
    moved = Counter(move.member_id for move in moves)
    joined = Membership(group.id, group.name, group.idp_id)
    return {
        move.member_id: replace(
            move.before,
            groups=sorted([*move.before.groups, joined], key=lambda each: each.group_id),
        )
        for move in moves
        if move.added and move.before is not None and moved[move.member_id] == 1
    }


def _ids_of(moves: Sequence[MemberMove], member_type: str) -> list[str]:
    return list(dict.fromkeys(m.member_id for m in moves if m.member_type == member_type))


def user_created_alone(engine: Engine, config: DirectoryConfig, stored: StoredResource) -> None:
    """PostgreSQL: a user provisioned with no roles (``stored`` is its new row), written with
    its ``user.created`` event as one statement, which commits on its own
    (``store.published_inserts``): what :meth:`UnitOfWork.user_created` records in a
    transaction of its own, in one round trip instead of four. ``config`` is the
    directory's configuration as this process keeps it: the payload reads nothing."""
    with one_statement_writing(engine) as conn:
        user = PayloadBuilder(conn, config).user(stored.id, stored=stored, groups=[], user_roles=[])
        event = _new_event(config.directory, EventType.user_created, stored.id, UserData(user=user))
        published_inserts.insert_published(conn, event.directory_id, USERS, stored, event, utcnow())


class changing:
    """A writing transaction on a directory whose recorded changes are published when it
    commits; ``known`` is the directory as the request confirmed it, if it did.

    A class rather than a generator's context manager, which costs about two microseconds
    more, as every write of a directory enters one: what the generator did is spelled out.
    """

    __slots__ = ("_directory_id", "_engine", "_known", "_work", "_writing")

    def __init__(self, engine: Engine, directory_id: str, known: Confirmed | None = None) -> None:
        self._engine = engine
        self._directory_id = directory_id
        self._known = known

    def __enter__(self) -> UnitOfWork:
        self._writing = writing(self._engine)
        conn = self._writing.__enter__()
        try:
            self._work = UnitOfWork(conn, self._directory_id, self._known)
        except BaseException as failure:
            self._writing.__exit__(type(failure), failure, failure.__traceback__)
            raise
        return self._work

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: Any
    ) -> None:
        # ``writing`` never swallows an exception: it ends its transaction and raises on.
        if kind is None:
            try:
                self._work._publish()
            except BaseException as failure:
                self._writing.__exit__(type(failure), failure, failure.__traceback__)
                raise
        self._writing.__exit__(kind, exc, traceback)
