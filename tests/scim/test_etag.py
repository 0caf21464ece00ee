"""Weak entity tags over resource versions and the conditional headers (``scim.etag``).

``If-Match`` and ``If-None-Match`` are compared weakly (RFC 9110 §8.8.3.2), as
SCIM's examples use them (RFC 7644 §3.14): ``W/"3"`` and ``"3"`` both name
version 3, ``*`` names any, and a header may list several tags.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scim2_models import PreconditionFailedException

from property_support import property_settings
from scimgate.scim.etag import check_if_match, etag, matches_if_none_match


@pytest.mark.parametrize(("version", "tag"), [(0, 'W/"0"'), (1, 'W/"1"'), (42, 'W/"42"')])
def test_a_version_is_a_weak_tag(version: int, tag: str) -> None:
    assert etag(version) == tag


# If-Match


@pytest.mark.parametrize(
    "header",
    [
        None,
        'W/"3"',
        '"3"',
        "*",
        ' W/"3" ',
        'W/"2", W/"3"',
        'W/"3",W/"4"',
        '"1", "3"',
        'W/"1", *',
    ],
)
def test_a_write_naming_the_current_version_or_none_goes_ahead(header: str | None) -> None:
    check_if_match(header, 3)


@pytest.mark.parametrize(
    "header",
    [
        'W/"2"',
        '"2"',
        'W/"2", W/"4"',
        'W/"33"',
        'W/"03"',
        "3",
        'w/"3"',
        'W/"3',
        "",
        "**",
        'W/"3" W/"4"',
    ],
)
def test_a_write_naming_another_version_is_refused_with_412(header: str) -> None:
    with pytest.raises(PreconditionFailedException) as refused:
        check_if_match(header, 3)
    assert refused.value.status == 412
    detail = str(refused.value.detail)
    assert f"If-Match {header} does not match" in detail
    assert 'current version W/"3"' in detail
    assert "read the resource again" in detail


# If-None-Match


@pytest.mark.parametrize("header", ['W/"7"', '"7"', "*", 'W/"1", W/"7"', ' W/"7"'])
def test_a_read_naming_the_current_tag_is_not_modified(header: str) -> None:
    assert matches_if_none_match(header, etag(7)) is True


@pytest.mark.parametrize("header", [None, 'W/"6"', 'W/"77"', "", "7", 'W/"6", "8"'])
def test_a_read_naming_another_tag_or_none_is_answered_in_full(header: str | None) -> None:
    assert matches_if_none_match(header, etag(7)) is False


_VERSIONS = st.integers(min_value=0, max_value=10**12)


@given(_VERSIONS, st.lists(_VERSIONS, max_size=4), st.booleans(), st.booleans())
@property_settings(200)
def test_a_listed_tag_matches_exactly_when_it_names_the_version(
    version: int, listed: list[int], strong: bool, spaced: bool
) -> None:
    tags = [f'"{n}"' if strong else etag(n) for n in listed]
    header = (", " if spaced else ",").join(tags)
    named = version in listed

    assert matches_if_none_match(header, etag(version)) is named
    if named:
        check_if_match(header, version)
    else:
        with pytest.raises(PreconditionFailedException):
            check_if_match(header, version)
