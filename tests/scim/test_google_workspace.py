"""Google Workspace's users and groups as SCIM resources, and the sync's scope (pure)."""

from typing import Any

import pytest
from scim2_models import Context

from scimgate.scim import jsontext
from scimgate.scim.attribute_mapping import checked_mapping, custom_attributes
from scimgate.scim.extensions import definition, read_schema, resource_models
from scimgate.scim.google_workspace import (
    ENTERPRISE_SCHEMA,
    GOOGLE_DEFINITION,
    GOOGLE_SCHEMA,
    ScopeKind,
    SyncScope,
    group_document,
    manager_email,
    user_document,
)
from scimgate.scim.requests import read_resource
from scimgate.scim.stored import stored_document

CREATE = Context.RESOURCE_CREATION_REQUEST
USERS = "https://scim.example/scim/v2/d/Users"
PULLED_USER = resource_models(
    (("User", jsontext.dumps(definition(read_schema(GOOGLE_DEFINITION, "User")))),)
).user
"""The user model of a pulled directory: with the extension of what only Google holds."""
GRACE: dict[str, Any] = {
    "id": "104",
    "primaryEmail": "grace@example.com",
    "name": {"givenName": "Grace", "familyName": "Hopper", "fullName": "Grace Hopper"},
    "suspended": False,
    "orgUnitPath": "/Eng",
    "organizations": [
        {"title": "Intern", "department": "Old", "primary": False},
        {"title": "CTO", "department": "Eng", "costCenter": "CC1", "primary": True},
    ],
    "externalIds": [{"type": "custom", "value": "x"}, {"type": "organization", "value": "E7"}],
    "relations": [
        {"type": "assistant", "value": "a@example.com"},
        {"type": "manager", "value": "boss@example.com"},
    ],
    "customSchemas": {
        "EmployeeData": {
            "Badge": "B-7",
            "Skills": [{"type": "work", "value": "COBOL"}, {"value": "x"}],
        }
    },
    "phones": [
        {"type": "work", "value": "+1 555 0100"},
        {"type": "work_mobile", "value": "+1 555 0101"},
        {"type": "home_fax", "value": "+1 555 0102"},
        {"type": "grand_central", "value": "+1 555 0103"},
    ],
}


def test_a_user_reads_as_entra_would_push_them() -> None:
    doc = user_document(GRACE, "manager-id", USERS)

    assert doc["schemas"] == [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        ENTERPRISE_SCHEMA,
        GOOGLE_SCHEMA,
    ]
    assert (doc["externalId"], doc["userName"], doc["active"]) == ("104", "grace@example.com", True)
    assert doc["emails"] == [{"primary": True, "type": "work", "value": "grace@example.com"}]
    assert doc["name"] == {
        "formatted": "Grace Hopper",
        "familyName": "Hopper",
        "givenName": "Grace",
    }
    assert (doc["displayName"], doc["title"]) == ("Grace Hopper", "CTO")
    assert doc[ENTERPRISE_SCHEMA] == {
        "employeeNumber": "E7",
        "costCenter": "CC1",
        "department": "Eng",
        "manager": {"value": "manager-id", "$ref": f"{USERS}/manager-id"},
    }
    assert [p["type"] for p in doc["phoneNumbers"]] == ["work", "mobile", "fax", "other"]
    assert doc[GOOGLE_SCHEMA] == {
        "orgUnitPath": "/Eng",
        "customFields": [
            {"schema": "EmployeeData", "field": "Badge", "value": "B-7"},
            {"schema": "EmployeeData", "field": "Skills", "value": "COBOL"},
            {"schema": "EmployeeData", "field": "Skills", "value": "x"},
        ],
    }
    # A valid SCIM user, in the very form it is stored in: an unchanged person is seen as such
    # without validating their document again.
    assert stored_document(read_resource(PULLED_USER, doc, CREATE, "User", USERS)) == doc


def test_what_only_google_holds_can_be_mapped_to_a_custom_attribute() -> None:
    doc = user_document(GRACE, None, USERS)
    user = read_resource(PULLED_USER, doc, CREATE, "User", USERS)
    mappings = {
        "org_unit": f"{GOOGLE_SCHEMA}:orgUnitPath",
        "badge": f'{GOOGLE_SCHEMA}:customFields[field eq "Badge"].value',
    }
    for name, path in mappings.items():
        checked_mapping(name, path, PULLED_USER)
    assert custom_attributes(user, mappings) == {"org_unit": "/Eng", "badge": "B-7"}


@pytest.mark.parametrize(
    ("flags", "active"), [({}, True), ({"suspended": True}, False), ({"archived": True}, False)]
)
def test_suspended_and_archived_people_are_inactive(flags: dict[str, bool], active: bool) -> None:
    assert user_document({**GRACE, **flags}, None, USERS)["active"] is active


def test_a_bare_user_has_no_empty_parts() -> None:
    doc = user_document(
        {"id": "1", "primaryEmail": "x@example.com", "customSchemas": {}}, None, USERS
    )

    assert doc == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "externalId": "1",
        "userName": "x@example.com",
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": "x@example.com"}],
    }


def test_a_name_in_parts_only_is_made_whole() -> None:
    doc = user_document({**GRACE, "name": {"givenName": "Grace", "familyName": " "}}, None, USERS)
    assert doc["displayName"] == "Grace" and doc["name"] == {
        "formatted": "Grace",
        "givenName": "Grace",
    }


def test_the_manager_is_the_relation_of_type_manager() -> None:
    assert manager_email(GRACE) == "boss@example.com"
    assert manager_email({"relations": [{"type": "assistant", "value": "a"}]}) is None


def test_a_group_is_named_by_its_name_else_its_address() -> None:
    assert (
        group_document({"id": "g", "email": "eng@example.com", "name": "Eng"})["displayName"]
        == "Eng"
    )
    assert group_document({"id": "g", "email": "eng@example.com"}) == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "externalId": "g",
        "displayName": "eng@example.com",
    }


def test_an_org_unit_holds_those_beneath_it_and_no_namesake() -> None:
    scope = SyncScope(ScopeKind.org_units, ("/Sales",))
    assert scope.holds_org_unit("/Sales") and scope.holds_org_unit("/sales/East")
    assert not scope.holds_org_unit("/Salesforce") and not scope.holds_org_unit("/")
    assert SyncScope(ScopeKind.org_units, ("/",)).holds_org_unit("/Anything")
    assert SyncScope().holds_org_unit("/Anything") and SyncScope().holds_group("x@y")


def test_a_group_scope_names_groups_by_address_in_any_case() -> None:
    scope = SyncScope(ScopeKind.groups, ("Eng@Example.com",))
    assert scope.holds_group("eng@example.com") and not scope.holds_group("ops@example.com")
