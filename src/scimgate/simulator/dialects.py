"""How each identity provider phrases the same provisioning operations.

The shapes follow the IdPs' public documentation: Microsoft Entra ID's SCIM
tutorial and known-issues pages, Okta's SCIM 2.0 reference. For Google
Workspace, OneLogin, JumpCloud, Ping and Rippling only third-party descriptions
were found: their dialects are the RFC's, with the quirks those describe.
"""

import uuid
from typing import Any

from scimgate.simulator.population import Person, Team
from scimgate.simulator.runner import Session

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ADSCIM = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
OK = (200,)
OK_OR_EMPTY = (200, 204)


def _patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


class Generic:
    """An RFC 7644 client: PATCH with lowercase ops, filtered member removal, DELETE for leavers."""

    name = "generic"
    user_agent = "scimgate-simulator"
    deletes_users = True
    pushes_groups = True

    def test_connection(self, session: Session) -> None:
        probe = session.send(
            "GET", "/Users", OK, params={"filter": f'userName eq "{uuid.uuid4()}"'}
        )
        session.check(bool(probe) and probe.get("totalResults") == 0, "random userName is absent")

    def user_body(self, person: Person, domain: str) -> dict[str, Any]:
        return {
            "schemas": [USER, ENTERPRISE],
            "externalId": person.key,
            "userName": person.user_name,
            "name": {"givenName": person.given_name, "familyName": person.family_name},
            "displayName": f"{person.given_name} {person.family_name}",
            "emails": [{"primary": True, "type": "work", "value": person.user_name}],
            "title": person.title,
            "active": True,
            ENTERPRISE: {"department": person.department},
        }

    def set_manager(self, session: Session, person: Person, manager_id: str) -> None:
        # The reference is the manager's own location, under the base URL requests go to.
        users = f"{session.base_url}/Users"
        manager = {"value": manager_id, "$ref": f"{users}/{manager_id}"}
        body = _patch({"op": "replace", "path": f"{ENTERPRISE}:manager", "value": manager})
        session.send("PATCH", f"/Users/{person.scim_id}", OK_OR_EMPTY, json=body)

    def find_group(self, session: Session, team: Team) -> Any:
        params = {"filter": f'displayName eq "{team.display_name}"'}
        return session.send("GET", "/Groups", OK, params=params)

    def create_group(self, session: Session, team: Team) -> Any:
        body = {"schemas": [GROUP], "displayName": team.display_name, "externalId": team.key}
        return session.send("POST", "/Groups", (201,), json=body)

    def add_members(self, session: Session, team: Team, ids: list[str]) -> None:
        for start in range(0, len(ids), 50):
            added = [{"value": member} for member in ids[start : start + 50]]
            body = _patch({"op": "add", "path": "members", "value": added})
            session.send("PATCH", f"/Groups/{team.scim_id}", OK_OR_EMPTY, json=body)

    def remove_member(self, session: Session, team: Team, member: str) -> None:
        body = _patch({"op": "remove", "path": f'members[value eq "{member}"]'})
        session.send("PATCH", f"/Groups/{team.scim_id}", OK_OR_EMPTY, json=body)

    def change_title(self, session: Session, person: Person, title: str) -> Any:
        body = _patch({"op": "replace", "path": "title", "value": title})
        return session.send("PATCH", f"/Users/{person.scim_id}", OK, json=body)

    def deactivate(self, session: Session, person: Person) -> Any:
        body = _patch({"op": "replace", "path": "active", "value": False})
        return session.send("PATCH", f"/Users/{person.scim_id}", OK, json=body)


class Entra(Generic):
    """Microsoft Entra ID: PATCH for every change, capitalised ops, string booleans."""

    name = "entra"
    user_agent = "Azure Active Directory SCIM Client"
    deletes_users = True

    def user_body(self, person: Person, domain: str) -> dict[str, Any]:
        return {
            "schemas": [USER, ENTERPRISE],
            "externalId": person.key,
            "userName": person.user_name,
            "active": True,
            "displayName": f"{person.given_name} {person.family_name}",
            "emails": [{"primary": True, "type": "work", "value": person.user_name}],
            "meta": {"resourceType": "User"},
            "name": {
                "formatted": f"{person.given_name} {person.family_name}",
                "familyName": person.family_name,
                "givenName": person.given_name,
            },
            "title": person.title,
            "roles": [],
            ENTERPRISE: {"department": person.department},
        }

    def set_manager(self, session: Session, person: Person, manager_id: str) -> None:
        body = _patch({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager_id})
        session.send("PATCH", f"/Users/{person.scim_id}", OK_OR_EMPTY, json=body)

    def find_group(self, session: Session, team: Team) -> Any:
        params = {
            "excludedAttributes": "members",
            "filter": f'displayName eq "{team.display_name}"',
        }
        return session.send("GET", "/Groups", OK, params=params)

    def create_group(self, session: Session, team: Team) -> Any:
        body = {
            "schemas": [GROUP, ADSCIM],
            "externalId": team.key,
            "displayName": team.display_name,
            "meta": {"resourceType": "Group"},
        }
        return session.send("POST", "/Groups", (201,), json=body)

    def add_members(self, session: Session, team: Team, ids: list[str]) -> None:
        # One member per operation, several operations per request.
        for start in range(0, len(ids), 10):
            operations = [
                {"op": "Add", "path": "members", "value": [{"$ref": None, "value": member}]}
                for member in ids[start : start + 10]
            ]
            session.send("PATCH", f"/Groups/{team.scim_id}", OK_OR_EMPTY, json=_patch(*operations))

    def remove_member(self, session: Session, team: Team, member: str) -> None:
        body = _patch({"op": "Remove", "path": "members", "value": [{"value": member}]})
        session.send("PATCH", f"/Groups/{team.scim_id}", OK_OR_EMPTY, json=body)

    def change_title(self, session: Session, person: Person, title: str) -> Any:
        body = _patch(
            {"op": "Replace", "path": "title", "value": title},
            {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Moved"},
        )
        return session.send("PATCH", f"/Users/{person.scim_id}", OK, json=body)

    def deactivate(self, session: Session, person: Person) -> Any:
        body = _patch({"op": "Replace", "path": "active", "value": "False"})
        return session.send("PATCH", f"/Users/{person.scim_id}", OK, json=body)


class Okta(Generic):
    """Okta: PUT for profile updates, lowercase no-path replace to deactivate, never DELETE."""

    name = "okta"
    user_agent = "Okta SCIM Client 1.0.0"
    deletes_users = False

    def test_connection(self, session: Session) -> None:
        params = {"filter": f'userName eq "{uuid.uuid4()}"', "startIndex": 1, "count": 100}
        probe = session.send("GET", "/Users", OK, params=params)
        session.check(bool(probe) and probe.get("totalResults") == 0, "random userName is absent")

    def user_body(self, person: Person, domain: str) -> dict[str, Any]:
        return {
            "schemas": [USER],
            "userName": person.user_name,
            "name": {"givenName": person.given_name, "familyName": person.family_name},
            "emails": [{"primary": True, "value": person.user_name, "type": "work"}],
            "displayName": f"{person.given_name} {person.family_name}",
            "locale": "en-US",
            "externalId": person.key,
            "groups": [],
            "password": "initial-Passw0rd",
            "active": True,
            "title": person.title,
        }

    def set_manager(self, session: Session, person: Person, manager_id: str) -> None:
        """Okta's default mappings send no manager."""

    def find_group(self, session: Session, team: Team) -> Any:
        return {"totalResults": 0}

    def create_group(self, session: Session, team: Team) -> Any:
        body = {"schemas": [GROUP], "displayName": team.display_name, "members": []}
        return session.send("POST", "/Groups", (201,), json=body)

    def add_members(self, session: Session, team: Team, ids: list[str]) -> None:
        for start in range(0, len(ids), 25):
            rename = {"id": team.scim_id, "displayName": team.display_name}
            added = [{"value": member, "display": member} for member in ids[start : start + 25]]
            body = _patch(
                {"op": "replace", "value": rename},
                {"op": "add", "path": "members", "value": added},
            )
            session.send("PATCH", f"/Groups/{team.scim_id}", OK_OR_EMPTY, json=body)

    def remove_member(self, session: Session, team: Team, member: str) -> None:
        body = _patch({"op": "remove", "path": f'members[value eq "{member}"]'})
        session.send("PATCH", f"/Groups/{team.scim_id}", OK_OR_EMPTY, json=body)

    def change_title(self, session: Session, person: Person, title: str) -> Any:
        current = session.send("GET", f"/Users/{person.scim_id}", OK)
        if current is None:
            return None
        return session.send("PUT", f"/Users/{person.scim_id}", OK, json={**current, "title": title})

    def deactivate(self, session: Session, person: Person) -> Any:
        body = _patch({"op": "replace", "value": {"active": False}})
        return session.send("PATCH", f"/Users/{person.scim_id}", OK, json=body)


class Google(Generic):
    """Google Workspace: users only (groups are reported not to be pushed), few attributes."""

    name = "google"
    user_agent = "Google-Auto-Provisioning"
    pushes_groups = False

    def test_connection(self, session: Session) -> None:
        session.send("GET", "/Users", OK, params={"count": 1})

    def user_body(self, person: Person, domain: str) -> dict[str, Any]:
        return {
            "schemas": [USER],
            "userName": person.user_name,
            "name": {"givenName": person.given_name, "familyName": person.family_name},
            "emails": [{"primary": True, "value": person.user_name}],
            "active": True,
        }

    def set_manager(self, session: Session, person: Person, manager_id: str) -> None:
        """Google's mapping offers no manager."""


class OneLogin(Generic):
    """OneLogin: bodies from an admin-edited template; empty placeholders arrive as ""."""

    name = "onelogin"
    user_agent = "OneLogin SCIM"

    def user_body(self, person: Person, domain: str) -> dict[str, Any]:
        body = super().user_body(person, domain)
        body["nickName"] = ""
        body["title"] = person.title or ""
        return body

    def set_manager(self, session: Session, person: Person, manager_id: str) -> None:
        manager = {"value": manager_id, "displayName": "Manager"}
        body = _patch({"op": "replace", "path": f"{ENTERPRISE}:manager", "value": manager})
        session.send("PATCH", f"/Users/{person.scim_id}", OK_OR_EMPTY, json=body)


class JumpCloud(Generic):
    """JumpCloud: its connection test creates a user and a group, then deletes both."""

    name = "jumpcloud"
    user_agent = "JumpCloud SCIM"

    def test_connection(self, session: Session) -> None:
        probe_name = f"jc-test-{uuid.uuid4()}@example.com"
        user = session.send(
            "POST", "/Users", (201,), json={"schemas": [USER], "userName": probe_name}
        )
        group = session.send(
            "POST", "/Groups", (201,), json={"schemas": [GROUP], "displayName": probe_name}
        )
        for path, created in (("/Users", user), ("/Groups", group)):
            if created:
                session.send("DELETE", f"{path}/{created['id']}", (204,))

    def remove_member(self, session: Session, team: Team, member: str) -> None:
        body = _patch({"op": "remove", "path": "members", "value": [{"value": member}]})
        session.send("PATCH", f"/Groups/{team.scim_id}", OK_OR_EMPTY, json=body)


class Ping(Generic):
    """PingFederate's SCIM provisioner: RFC requests."""

    name = "ping"
    user_agent = "PingFederate SCIM Connector"


class Rippling(Generic):
    """Rippling: a handful of attributes, groups edited by PATCH."""

    name = "rippling"
    user_agent = "Rippling"

    def test_connection(self, session: Session) -> None:
        session.send("GET", "/ServiceProviderConfig", OK)

    def user_body(self, person: Person, domain: str) -> dict[str, Any]:
        return {
            "schemas": [USER],
            "externalId": person.key,
            "userName": person.user_name,
            "emails": [{"primary": True, "value": person.user_name}],
            "name": {"givenName": person.given_name, "familyName": person.family_name},
            "active": True,
        }

    def set_manager(self, session: Session, person: Person, manager_id: str) -> None:
        """Rippling's custom apps send no manager."""


Dialect = Generic
DIALECTS: dict[str, Dialect] = {
    dialect.name: dialect
    for dialect in (
        Entra(),
        Okta(),
        Google(),
        OneLogin(),
        JumpCloud(),
        Ping(),
        Rippling(),
        Generic(),
    )
}
