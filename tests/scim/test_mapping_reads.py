"""Custom attributes read from a user's dump are those the models' paths read (pure).

Every user event carries the directory's custom attributes. Entra's default
``mobile_phone`` is ``phoneNumbers[type eq "mobile"].value``, a filtered path:
read through the models, it cost a validation of the whole user and a filter
evaluation per event. Such a path is now read from the dump; these tests hold
that reading to the models' own.
"""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from property_support import property_settings
from scim_payloads import USER_SCHEMA
from scimgate.scim.attribute_mapping import (
    DEFAULTS,
    custom_attributes,
    custom_attributes_of_dump,
)
from scimgate.scim.idp import IdpProfile
from scimgate.scim.resources import UserResource

_TYPES = st.sampled_from([None, "work", "Work", "home", "mobile", "MOBILE", "other", "pager"])
_VALUES = st.sampled_from([None, "+1 555 0100", "ann@example.com", "Ann@Example.COM", "Ünï"])
_ENTRIES = st.lists(
    st.fixed_dictionaries(
        {
            "value": _VALUES,
            "type": _TYPES,
            "display": _VALUES,
            "primary": st.one_of(st.none(), st.booleans()),
        }
    ).map(lambda entry: {key: value for key, value in entry.items() if value is not None}),
    max_size=4,
)
_USERS = st.fixed_dictionaries(
    {"userName": st.just("ann")},
    optional={"phoneNumbers": _ENTRIES, "emails": _ENTRIES, "ims": _ENTRIES},
)


def _spelled(word: str) -> st.SearchStrategy[str]:
    """A name as an IdP may spell it: attribute names are case-insensitive (RFC 7643 §2.1)."""
    return st.sampled_from([word, word.lower(), word.upper()])


_PATHS = st.builds(
    lambda urn, attribute, key, operator, literal, sub: (
        f'{urn}{attribute}[{key} {operator} "{literal}"].{sub}'
    ),
    st.sampled_from(["", f"{USER_SCHEMA}:"]),
    st.sampled_from(["phoneNumbers", "emails", "ims"]).flatmap(_spelled),
    st.sampled_from(["type", "value", "display"]).flatmap(_spelled),
    st.sampled_from(["eq", "EQ", "Eq"]),
    st.sampled_from(["mobile", "Mobile", "work", "ann@example.com", "", "ünï"]),
    st.sampled_from(["value", "type", "display", "primary"]).flatmap(_spelled),
)


def _dump(body: dict[str, Any]) -> dict[str, Any]:
    """A user as the service stores it: the models' dump of what was sent."""
    user = UserResource.model_validate({"schemas": [USER_SCHEMA], **body})
    dumped: dict[str, Any] = user.model_dump(mode="json", exclude_none=True, by_alias=True)
    return dumped


def _from_models(raw: dict[str, Any], mappings: dict[str, str]) -> dict[str, Any]:
    return custom_attributes(UserResource.model_validate(raw), mappings)


def _from_dump_alone(raw: dict[str, Any], mappings: dict[str, str]) -> dict[str, Any]:
    """The dump's reading, failing if it asked the models."""

    def no_model() -> Any:
        raise AssertionError("the mapping was read through the models")

    return custom_attributes_of_dump(raw, mappings, UserResource, no_model)


@given(body=_USERS, path=_PATHS)
@property_settings(300)
def test_a_selection_read_from_the_dump_is_the_models_reading(
    body: dict[str, Any], path: str
) -> None:
    raw = _dump(body)
    mappings = {"picked": path}
    assert _from_dump_alone(raw, mappings) == _from_models(raw, mappings)


@pytest.mark.parametrize("profile", list(IdpProfile))
@given(body=_USERS)
@property_settings(60)
def test_every_profiles_defaults_are_read_from_the_dump(
    profile: IdpProfile, body: dict[str, Any]
) -> None:
    raw = _dump(body)
    assert _from_dump_alone(raw, DEFAULTS[profile]) == _from_models(raw, DEFAULTS[profile])


@pytest.mark.parametrize(
    "path",
    [
        'phoneNumbers[type eq "mobile" or type eq "work"].value',
        'phoneNumbers[type  eq "mobile"].value',
        'phoneNumbers[type eq "mo\\"bile"].value',
        'phoneNumbers[type sw "mob"].value',
        'phoneNumbers[type eq "mobile"]',
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    ],
)
def test_other_shapes_are_left_to_the_models(path: str) -> None:
    raw = _dump(
        {
            "userName": "ann",
            "phoneNumbers": [{"value": "1", "type": "mobile"}, {"value": "2", "type": "work"}],
        }
    )
    asked = []

    def model() -> Any:
        asked.append(path)
        return UserResource.model_validate(raw)

    mappings = {"picked": path}
    assert custom_attributes_of_dump(raw, mappings, UserResource, model) == _from_models(
        raw, mappings
    )
    assert asked == [path]
