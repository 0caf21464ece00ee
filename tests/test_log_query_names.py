"""The provisioning log reads only the names of a query's parameters, as ``parse_qs`` reads them.

The IdP is recognised from the names (Entra's ``aadOptscim…`` feature flags);
decoding every value, as ``parse_qs`` does, cost more than the rest of the
entry. Both ways must find the same names, and so the same IdP, for any query.
"""

from urllib.parse import parse_qs

from hypothesis import given
from hypothesis import strategies as st

from property_support import property_settings
from scimgate.scim.idp import recognise
from scimgate.service.operations.provisioning_log import query_names

_PIECES = st.sampled_from(
    ["&", "=", "+", "%", "%2", "%20", "%3D", "%26", "%61", "%ff", "%C3%A9", ";", "aad", "Opt"]
)
QUERIES = st.lists(st.one_of(_PIECES, st.text(max_size=6)), max_size=12).map("".join)
"""Query strings built of the pieces that change how names are read, and any text."""

AGENTS = st.one_of(st.none(), st.sampled_from(["Okta SCIM Client", "curl/8", ""]), st.text())


@property_settings(500)
@given(QUERIES)
def test_the_names_are_those_parse_qs_reads(query: str) -> None:
    assert set(query_names(query)) == set(parse_qs(query, keep_blank_values=True))


@property_settings(300)
@given(
    st.lists(
        st.sampled_from(["aadOptscim062020", "AADOPTSCIM%20x", "%61adOptscim", "filter", ""]),
        max_size=4,
    ).map("&".join),
    AGENTS,
)
def test_the_idp_recognised_is_the_same(query: str, agent: str | None) -> None:
    expected = recognise(agent, parse_qs(query, keep_blank_values=True).keys())
    assert recognise(agent, query_names(query)) == expected


def test_an_entra_flag_is_found_among_other_parameters() -> None:
    names = query_names("filter=userName%20eq%20%22a%22&aadOptscim062020&x=%3D")
    assert names == ["filter", "aadOptscim062020", "x"]
    assert recognise(None, names) == "entra"
