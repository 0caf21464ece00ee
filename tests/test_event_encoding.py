"""An event's payload written by orjson straight from its model is the JSON pydantic writes."""

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from property_support import property_settings
from scimgate.events.encoding import encoded
from scimgate.events.models import (
    DeprovisionReason,
    DirectoryData,
    DirectoryInfo,
    GroupData,
    MembershipData,
    UserData,
)
from scimgate.scim.jsontext import dumps
from scimgate.scim.normalized import DirectoryGroup, DirectoryUser, GroupRef, UserState

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
"""What a stored SCIM document holds: integers beyond 64 bits and non-finite floats too."""

documents = st.dictionaries(st.text(), json_values, max_size=6)
maybe_text = st.none() | st.text()

groups = st.builds(DirectoryGroup, id=st.text(), idp_id=maybe_text, name=st.text(), raw=documents)
users = st.builds(
    DirectoryUser,
    id=st.text(),
    idp_id=maybe_text,
    username=st.text(),
    primary_email=maybe_text,
    emails=st.lists(st.text(), max_size=3),
    undeliverable_emails=st.lists(st.text(), max_size=2),
    first_name=maybe_text,
    last_name=maybe_text,
    display_name=maybe_text,
    job_title=maybe_text,
    department=maybe_text,
    manager_id=maybe_text,
    state=st.sampled_from(UserState),
    groups=st.lists(st.builds(GroupRef, id=st.text(), name=st.text()), max_size=3),
    roles=st.lists(st.text(), max_size=3),
    custom_attributes=documents,
    raw=documents,
)
payloads = st.one_of(
    st.builds(MembershipData, group=groups, user=users),
    st.builds(MembershipData, group=groups, member_group=groups),
    st.builds(
        UserData,
        user=users,
        previous_attributes=documents,
        reason=st.none() | st.sampled_from(DeprovisionReason),
        previous_roles=st.none() | st.lists(st.text(), max_size=3),
    ),
    st.builds(GroupData, group=groups, previous_attributes=documents),
    st.builds(
        DirectoryData,
        directory=st.builds(
            DirectoryInfo, id=st.text(), name=st.text(), organization_id=st.text(), idp=st.text()
        ),
        held_events=st.none() | st.integers(min_value=0),
        deprovisionings_in_window=st.none() | st.integers(min_value=0),
    ),
)


@property_settings(300)
@given(payloads)
def test_a_payload_is_stored_as_the_text_pydantic_writes(data: Any) -> None:
    assert dumps(encoded(data)) == dumps(data.model_dump(mode="json"))


def _member(raw: dict[str, Any]) -> MembershipData:
    user = DirectoryUser(
        id="u",
        idp_id=None,
        username="ada@example.com",
        primary_email="ada@example.com",
        emails=["ada@example.com"],
        undeliverable_emails=[],
        first_name="Ada",
        last_name=None,
        display_name=None,
        job_title=None,
        department=None,
        manager_id=None,
        state=UserState.active,
        groups=[GroupRef("g", "Engineering")],
        roles=["admin"],
        custom_attributes={},
        raw=raw,
    )
    return MembershipData(group=DirectoryGroup("g", None, "Engineering", {}), user=user)


def test_a_plain_payload_is_kept_as_its_text() -> None:
    data = _member({"userName": "ada@example.com", "active": True, "n": 1.5})
    payload = encoded(data)
    assert isinstance(payload, orjson.Fragment)
    assert orjson.loads(dumps(payload)) == data.model_dump(mode="json")


@pytest.mark.parametrize(
    "raw",
    [
        {"when": datetime(2026, 12, 6, 21, 55, 18, 667443, tzinfo=UTC)},
        {"big": 2**70},
        {"nested": {1: "a key that is not a string"}},
    ],
    ids=["datetime", "big integer", "non-string key"],
)
def test_what_orjson_might_write_otherwise_takes_pydantics_path(raw: dict[str, Any]) -> None:
    data = _member(raw)
    payload = encoded(data)
    assert payload == data.model_dump(mode="json")
