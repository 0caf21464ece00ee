"""Which identity provider is talking: declared for a directory, or recognised from its requests."""

from collections.abc import Iterable
from enum import StrEnum


class IdpProfile(StrEnum):
    entra = "entra"
    okta = "okta"
    google = "google"
    onelogin = "onelogin"
    jumpcloud = "jumpcloud"
    ping = "ping"
    rippling = "rippling"
    generic = "generic"


_USER_AGENT_MARKS = (
    ("okta", IdpProfile.okta),
    ("azure", IdpProfile.entra),
    ("microsoft", IdpProfile.entra),
    ("google", IdpProfile.google),
    ("onelogin", IdpProfile.onelogin),
    ("jumpcloud", IdpProfile.jumpcloud),
    ("rippling", IdpProfile.rippling),
    ("ping", IdpProfile.ping),
)


def recognise(user_agent: str | None, query_parameters: Iterable[str]) -> IdpProfile | None:
    """The IdP a request comes from, when its headers or query string give it away.

    Okta names itself in ``User-Agent``; Microsoft Entra may send none, but
    appends its feature flags (``aadOptscim…``) to the URL it was given.
    """
    agent = (user_agent or "").lower()
    for mark, profile in _USER_AGENT_MARKS:
        if mark in agent:
            return profile
    if any(name.lower().startswith("aadoptscim") for name in query_parameters):
        return IdpProfile.entra
    return None
