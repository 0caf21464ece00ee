"""Event payloads: the normalized user or group as it stands in the current transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import TypeAdapter
from scim2_models import NotFoundException
from sqlalchemy import Connection

from scimgate.events.models import DirectoryInfo
from scimgate.records import cached_property, frozen
from scimgate.scim.attribute_mapping import custom_attributes_of_dump
from scimgate.scim.normalized import (
    DirectoryGroup,
    DirectoryUser,
    UserState,
    normalize_group_dump,
    normalize_user,
    normalize_user_dump,
)
from scimgate.service.administration.tenants import effective_idp
from scimgate.service.directories import existing_directory
from scimgate.service.provisioning.directory_config import DirectoryConfig
from scimgate.service.provisioning.existing import existing
from scimgate.service.provisioning.representation import group_dump, user_dump, user_resource
from scimgate.service.provisioning.scope import Site
from scimgate.store import membership_lists, roles
from scimgate.store.event_subjects import UserWithGroups, users_with_groups, users_with_roles
from scimgate.store.membership_lists import Membership
from scimgate.store.resource_tables import GROUPS, USERS
from scimgate.store.stored_resources import StoredResource
from scimgate.store.tenants import Directory


def is_assigned(directory: Directory, groups: list[Membership]) -> bool:
    """Whether a user with these memberships is in the directory's assignment group (if any)."""
    group_id = directory.assignment_group
    return group_id is None or any(group.group_id == group_id for group in groups)


_USER_JSON: TypeAdapter[DirectoryUser] = TypeAdapter(DirectoryUser)


def user_json(user: DirectoryUser) -> dict[str, Any]:
    """A normalized user as JSON values (for tombstones)."""
    dumped: dict[str, Any] = _USER_JSON.dump_python(user, mode="json")
    return dumped


def directory_info(directory: Directory) -> DirectoryInfo:
    return DirectoryInfo(
        id=directory.id,
        name=directory.name,
        organization_id=directory.organization_id,
        idp=effective_idp(directory).value,
    )


@frozen
class UserFacts:
    """What a user's payload is built from: its row, its groups and its stored roles."""

    stored: StoredResource
    groups: list[Membership]
    roles: list[str]


def user_facts_of(found: UserWithGroups) -> UserFacts:
    """What a user's payload is built from, as ``users_with_groups`` read it."""
    stored, user_roles, groups = found
    return UserFacts(stored, [Membership(*group) for group in groups], user_roles)


@dataclass
class PayloadBuilder:
    """Reads resources through the writing transaction, so payloads see its own changes.

    ``location`` URLs in the raw documents are relative to the service root
    (``/scim/v2/{directory}/Users/{id}``): events are not answers to a request
    and have no host to name. A caller that holds what a payload is built
    from (the row it just wrote, the memberships it read) passes it, and the
    payload is derived from it without reading or validating it again.
    """

    conn: Connection
    config: DirectoryConfig

    @property
    def directory(self) -> Directory:
        return self.config.directory

    def reread_directory(self) -> None:
        """Take the directory row as it now stands, for a transaction that changed it (its
        assignment group): the payloads built after, and publishing, use it."""
        directory = existing_directory(self.conn, self.directory.id)
        self.config = replace(self.config, directory=directory)
        self.__dict__.pop("site", None)

    @property
    def mappings(self) -> dict[str, str]:
        return self.config.mappings

    @cached_property
    def site(self) -> Site:
        return Site(self.conn.engine, self.directory, f"/scim/v2/{self.directory.id}")

    def user(
        self,
        user_id: str,
        *,
        stored: StoredResource | None = None,
        groups: list[Membership] | None = None,
        user_roles: list[str] | None = None,
    ) -> DirectoryUser:
        """The user as it stands; a caller that holds its row, memberships or roles passes them."""
        if stored is None and groups is None and user_roles is None:
            return self._normalized(self.user_facts([user_id])[user_id])
        if stored is None and user_roles is None:
            stored, user_roles = self._with_roles([user_id])[user_id]
        if stored is None:
            stored = existing(USERS, self.conn, self.directory.id, user_id, for_update=False)
        if groups is None:
            groups = membership_lists.groups_of(self.conn, self.directory.id, [user_id])[user_id]
        if user_roles is None:
            user_roles = roles.roles_of(self.conn, self.directory.id, [user_id])[user_id]
        return self._normalized(UserFacts(stored, groups, user_roles))

    def user_facts(self, user_ids: Sequence[str]) -> dict[str, UserFacts]:
        """Several users' rows, memberships and roles, by id: a few statements per batch of
        users, not per user."""
        together = users_with_groups(self.conn, self.directory.id, user_ids)
        if together is not None:
            self._check_found(user_ids, together)
            return {user_id: user_facts_of(together[user_id]) for user_id in user_ids}
        read = self._with_roles(user_ids)
        groups = membership_lists.groups_of(self.conn, self.directory.id, user_ids)
        return {
            user_id: UserFacts(read[user_id][0], groups[user_id], read[user_id][1])
            for user_id in user_ids
        }

    def _with_roles(self, user_ids: Sequence[str]) -> dict[str, tuple[StoredResource, list[str]]]:
        """These users' rows and stored roles, read together; the SCIM 404 for a missing one."""
        read = users_with_roles(self.conn, self.directory.id, user_ids)
        self._check_found(user_ids, read)
        return read

    @staticmethod
    def _check_found(user_ids: Sequence[str], read: Mapping[str, Any]) -> None:
        """The SCIM 404 for the first of the users that were not read."""
        missing = [user_id for user_id in user_ids if user_id not in read]
        if missing:
            raise NotFoundException(detail=f"No user with id {missing[0]} in this directory")

    def users(
        self, user_ids: Sequence[str], facts: dict[str, UserFacts] | None = None
    ) -> dict[str, DirectoryUser]:
        """Several users as they stand, by id, from ``facts`` where the caller read them."""
        known = facts or {}
        unknown = [user_id for user_id in user_ids if user_id not in known]
        read = self.user_facts(unknown) if unknown else {}
        return {
            user_id: self._normalized(known[user_id] if user_id in known else read[user_id])
            for user_id in user_ids
        }

    def _normalized(self, facts: UserFacts) -> DirectoryUser:
        assigned = is_assigned(self.directory, facts.groups)
        if not self.site.models.served_as_stored:
            resource = user_resource(self.site, facts.stored, facts.groups)
            return normalize_user(resource, self.mappings, facts.roles, assigned=assigned)
        raw = user_dump(self.site, facts.stored, facts.groups)
        model = self.site.models.user
        custom = custom_attributes_of_dump(
            raw, self.mappings, model, lambda: model.model_validate(raw)
        )
        return normalize_user_dump(raw, custom, facts.roles, assigned=assigned)

    def state_of(self, doc: dict[str, Any], groups: list[Membership]) -> UserState:
        """A user's state from its stored document and memberships, without building it."""
        active = doc.get("active") is not False and is_assigned(self.directory, groups)
        return UserState.active if active else UserState.inactive

    def deleted_user(self, user_id: str) -> DirectoryUser:
        return replace(self.user(user_id), state=UserState.deleted)

    def group(self, group_id: str, stored: StoredResource | None = None) -> DirectoryGroup:
        """The group as it stands; a caller that holds its row passes it."""
        if stored is None:
            stored = existing(GROUPS, self.conn, self.directory.id, group_id, for_update=False)
        return normalize_group_dump(group_dump(self.site, stored))

    def groups(self, group_ids: Sequence[str]) -> dict[str, DirectoryGroup]:
        """Several groups as they stand, by id, read with one statement per batch."""
        stored = GROUPS.get_many(self.conn, self.directory.id, group_ids)
        missing = [group_id for group_id in group_ids if group_id not in stored]
        if missing:
            raise NotFoundException(detail=f"No group with id {missing[0]} in this directory")
        return {
            group_id: normalize_group_dump(group_dump(self.site, stored[group_id]))
            for group_id in group_ids
        }
