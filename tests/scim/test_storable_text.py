"""Text made storable: the fast way for ASCII text against the expression's replacement."""

import re

from hypothesis import given
from hypothesis import strategies as st

from property_support import property_settings
from scimgate.scim.text import storable

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@property_settings(500)
@given(
    text=st.one_of(
        st.text(),
        st.text(alphabet=st.characters(max_codepoint=127)),
        st.text(alphabet=st.sampled_from("a/\x00\ud800\udfff\ufffdé")),
    )
)
def test_every_unstorable_character_is_replaced(text: str) -> None:
    assert storable(text) == UNSTORABLE.sub("\ufffd", text)


def test_ascii_with_a_nul_is_replaced() -> None:
    assert storable("/scim/v2/x\x00y") == "/scim/v2/x\ufffdy"
    assert storable("/scim/v2/Users") == "/scim/v2/Users"
