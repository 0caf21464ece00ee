"""A PATCH path filter that matches nothing: 400 noTarget, except the shape Entra relies on.

RFC 7644 §3.5.2.3 and Table 9 of §3.12 answer an unmatched filter with
``noTarget``. Entra sends ``Add``/``Replace`` on ``phoneNumbers[type eq "mobile"].value``
for a user without a mobile number and expects the number to be created; that
is kept for a ``type eq "<canonical type>"`` filter on a typed attribute only.
"""

import secrets
from typing import Any

import pytest

from conftest import DirectoryClient
from scim_payloads import patch, user
from scimgate.scim.patch_targets import CANONICAL_TYPES

SUB_ATTRIBUTE = {
    "emails": ("value", "ann@example.com"),
    "phoneNumbers": ("value", "+1 555 0100"),
    "ims": ("value", "ann"),
    "photos": ("value", "https://example.com/ann.jpg"),
    "addresses": ("locality", "Paris"),
}

CREATING = [
    (attribute, kind, op)
    for attribute, sub in SUB_ATTRIBUTE.items()
    for kind in sorted(CANONICAL_TYPES[attribute.lower()])
    for op in ("add", "replace", "Replace")
]


@pytest.fixture
def existing(scim: DirectoryClient) -> dict[str, Any]:
    """A user with one home e-mail and nothing else multi-valued."""
    created = scim.http.post(
        "/Users",
        json=user(
            f"u{secrets.token_hex(4)}@example.com",
            emails=[{"type": "home", "value": "home@example.com"}],
        ),
    )
    assert created.status_code == 201, created.text
    found: dict[str, Any] = created.json()
    return found


@pytest.mark.parametrize(("attribute", "kind", "op"), CREATING)
def test_a_canonical_type_filter_creates_the_entry(
    scim: DirectoryClient, existing: dict[str, Any], attribute: str, kind: str, op: str
) -> None:
    sub, value = SUB_ATTRIBUTE[attribute]
    path = f'{attribute}[type eq "{kind}"].{sub}'
    answer = scim.http.patch(
        f"/Users/{existing['id']}", json=patch({"op": op, "path": path, "value": value})
    )
    assert answer.status_code == 200, answer.text
    created = [each for each in answer.json()[attribute] if each.get("type") == kind]
    assert len(created) == 1 and created[0][sub] == value, created


NO_TARGET = {
    "non-canonical type": 'emails[type eq "nonexistent"].value',
    "a non-canonical type in capitals": 'emails[type eq "WorkX"].value',
    "another operator": 'emails[type ne "home"].value',
    "co": 'emails[type co "wor"].value',
    "sw": 'phoneNumbers[type sw "mob"].value',
    "pr": "addresses[locality pr].region",
    "value filter": 'emails[value eq "nobody@example.com"].type',
    "primary filter": "phoneNumbers[primary eq true].value",
    "two comparisons": 'emails[type eq "work" and value eq "x@example.com"].display',
    "or": 'emails[type eq "work" or type eq "other"].value',
    "entitlements": 'entitlements[type eq "work"].value',
    "roles": 'roles[type eq "work"].value',
    "x509Certificates": 'x509Certificates[type eq "work"].value',
    "a type of another attribute": 'emails[type eq "mobile"].value',
    "ims type on phoneNumbers": 'phoneNumbers[type eq "skype"].value',
}


@pytest.mark.parametrize("op", ["replace", "add"])
@pytest.mark.parametrize("case", NO_TARGET)
def test_any_other_unmatched_filter_is_no_target(
    scim: DirectoryClient, existing: dict[str, Any], case: str, op: str
) -> None:
    path = NO_TARGET[case]
    value = "x@example.com" if path.endswith("value") else "work"
    answer = scim.http.patch(
        f"/Users/{existing['id']}", json=patch({"op": op, "path": path, "value": value})
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["scimType"] == "noTarget", answer.json()
    assert 'type eq "<type>"' in answer.json()["detail"], "the detail says what would work"
    after = scim.http.get(f"/Users/{existing['id']}").json()
    assert after["meta"]["version"] == existing["meta"]["version"]


def test_a_matching_filter_of_any_shape_still_applies(
    scim: DirectoryClient, existing: dict[str, Any]
) -> None:
    answer = scim.http.patch(
        f"/Users/{existing['id']}",
        json=patch(
            {"op": "replace", "path": 'emails[value eq "home@example.com"].display', "value": "H"},
            {"op": "replace", "path": 'emails[type ne "work"].primary', "value": True},
        ),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["emails"] == [
        {"type": "home", "value": "home@example.com", "display": "H", "primary": True}
    ]


def test_one_refused_operation_leaves_the_earlier_ones_undone(
    scim: DirectoryClient, existing: dict[str, Any]
) -> None:
    answer = scim.http.patch(
        f"/Users/{existing['id']}",
        json=patch(
            {"op": "replace", "path": "title", "value": "Engineer"},
            {"op": "add", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555"},
            {"op": "replace", "path": 'emails[type eq "nonexistent"].value', "value": "a@b.c"},
        ),
    )
    assert answer.status_code == 400, answer.text
    after = scim.http.get(f"/Users/{existing['id']}").json()
    assert "title" not in after and "phoneNumbers" not in after
    assert after["meta"]["version"] == existing["meta"]["version"]
