"""Verifying scimgate's webhook deliveries (Standard Webhooks signatures)."""

import binascii
from collections.abc import Mapping, Sequence

import standardwebhooks

from scimgate.client.errors import WebhookVerificationError
from scimgate.events.models import Event


def verify_webhook(
    body: bytes | str, headers: Mapping[str, str], secret: str | Sequence[str]
) -> Event:
    """The event a delivery carries, once its signature and timestamp check out.

    ``body`` must be the request body exactly as received, before any JSON
    parsing. ``secret`` is the endpoint's ``whsec_...`` secret; while rotating,
    pass the new and the old one: a delivery signed with either is accepted.
    The timestamp must be within five minutes of now, which stops replays.

    Raises WebhookVerificationError when no secret verifies the delivery.
    """
    verifiers = [_verifier(each) for each in ([secret] if isinstance(secret, str) else secret)]
    if not verifiers:
        raise ValueError("give at least one webhook secret")
    given = {name.lower(): value for name, value in headers.items()}
    reason = ""
    for verifier in verifiers:
        try:
            verifier.verify(body, given, json_parse=False)
        except standardwebhooks.WebhookVerificationError as exc:
            reason = str(exc)
        except ValueError:
            # A malformed signature header, or a body that is not UTF-8.
            reason = "Malformed signature header or body"
        else:
            return Event.model_validate_json(body)
    raise WebhookVerificationError(f"The webhook delivery is not authentic: {reason}")


def _verifier(secret: str) -> standardwebhooks.Webhook:
    try:
        return standardwebhooks.Webhook(secret)
    except (binascii.Error, standardwebhooks.webhooks.EmptyWebhookSecretError):
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from None
