"""How each identity provider phrases the same provisioning operations.

The shapes follow the IdPs' public documentation: Microsoft Entra ID's SCIM
tutorial and known-issues pages, Okta's SCIM 2.0 reference.
"""

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


class Entra:
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


class Okta:
    """Okta: PUT for profile updates, lowercase no-path replace to deactivate, never DELETE."""

    name = "okta"
    user_agent = "Okta SCIM Client 1.0.0"
    deletes_users = False

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


Dialect = Entra | Okta
DIALECTS: dict[str, Dialect] = {"entra": Entra(), "okta": Okta()}
