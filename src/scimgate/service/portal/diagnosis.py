"""Plain-language explanations of failed SCIM requests, for support staff to read to a customer.

Pure: a function of the logged request and of facts looked up beforehand
(who holds a contested userName, when a missing user was deleted).
"""

from datetime import datetime, timedelta
from typing import Any

from scimgate.records import frozen
from scimgate.scim.email_address import is_address
from scimgate.store.provisioning_logs import LogEntry


@frozen
class Holder:
    """The user that holds a userName another request wanted."""

    id: str
    active: bool
    modified_at: datetime


@frozen
class Facts:
    holder: Holder | None = None
    deleted_at: datetime | None = None
    """When the user a request named was deleted, if its tombstone is still kept."""


_BAD_REQUEST = {
    "invalidValue": (
        "the IdP sent a value this service cannot accept: {detail}. Check the attribute "
        "mappings in the IdP for that attribute (type and format of the value it sends)"
    ),
    "invalidSyntax": (
        "the IdP sent a request this service cannot read: {detail}. The request body is not "
        "valid SCIM; check any custom expressions in the IdP's attribute mappings"
    ),
    "invalidFilter": (
        "the IdP searched with a filter this service does not support: {detail}. Check which "
        "attribute the IdP matches users or groups on"
    ),
    "mutability": (
        "the IdP tried to change an attribute that cannot be changed: {detail}. Remove the "
        "mapping for that attribute in the IdP, or map it only on creation"
    ),
    "invalidPath": (
        "the IdP's PATCH names an attribute path this service does not know: {detail}. Check "
        "the target attribute names in the IdP's attribute mappings"
    ),
    "noTarget": (
        "the IdP's PATCH path matched nothing on the resource: {detail}. The IdP's view of "
        "the resource is out of date; re-sync it"
    ),
    "tooMany": (
        "the IdP asked for more results than this service returns at once: {detail}. "
        "Narrow the filter"
    ),
    "invalidVers": "the IdP speaks a SCIM version this service does not: {detail}",
}


CLIENT_CLOSED_REQUEST = 499
"""The status (nginx's convention) of a request whose client left before it was answered."""


def undeliverable_emails(resource: Any, *, shown: bool) -> str | None:
    """A warning for a user kept with e-mail values that are not addresses; None otherwise.

    ``resource`` is the user a successful request answered with; ``shown`` is
    False when the log redacts e-mails, and the warning then names no value.
    """
    emails = resource.get("emails") if isinstance(resource, dict) else None
    if not isinstance(emails, list):
        return None
    values = [
        email["value"]
        for email in emails
        if isinstance(email, dict)
        and isinstance(email.get("value"), str)
        and not is_address(email["value"])
    ]
    if not values:
        return None
    listed = ", ".join(repr(value) for value in values) if shown else f"({len(values)} redacted)"
    return (
        f"Warning: the user was kept, but the e-mail value {listed} is not an e-mail address "
        "and cannot be written to (it is listed in undeliverable_emails). Check the IdP's "
        "mapping of emails: it should send an address such as name@example.com."
    )


def diagnose(entry: LogEntry, facts: Facts, now: datetime) -> str | None:
    """A sentence on why the request failed and what to change; None for a success."""
    status = entry.status
    if status < 400:
        return None
    detail = (entry.error_detail or "no detail given").rstrip(".")
    if status == 409:
        return _conflict(entry, facts, now, detail)
    if status == 404:
        return _not_found(entry, facts, now, detail)
    if status == 400:
        template = _BAD_REQUEST.get(entry.scim_type or "")
        if template is None:
            return f"400: the IdP sent a request this service refused: {detail}."
        return f"400 ({entry.scim_type}): {template.format(detail=detail)}."
    if status == 412:
        return (
            f"412: the {_noun(entry)} changed since the IdP last read it, so its If-Match "
            "version no longer matches; the IdP must read it again and retry."
        )
    if status == 413:
        return (
            "413: the request is larger than this service accepts; have the IdP send "
            "smaller requests (fewer Bulk operations or group members at a time)."
        )
    if status == CLIENT_CLOSED_REQUEST:
        return (
            "499: the IdP closed the connection before its request had arrived in full; "
            "nothing was changed, and the IdP is expected to send the request again."
        )
    if status >= 500:
        return (
            f"{status}: internal error, request id {entry.request_id}, nothing was changed. "
            "The IdP will retry; if it keeps failing, give this request id to the operators."
        )
    return f"{status}: the request was refused: {detail}."


def _conflict(entry: LogEntry, facts: Facts, now: datetime, detail: str) -> str:
    if entry.user_name is None:
        return f"409: the request conflicts with what the directory holds: {detail}."
    holder = facts.holder
    if holder is None:
        return (
            f"409: userName {entry.user_name} belonged to another user when the request "
            "arrived; no user holds it any more, so the IdP's retry should succeed."
        )
    if holder.active:
        state = f"which is active (last changed {_ago(holder.modified_at, now)})"
    else:
        state = f"deactivated {_ago(holder.modified_at, now)}"
    return (
        f"409: userName {entry.user_name} already belongs to user {holder.id}, {state}. "
        "The IdP is creating a second user with the same userName: link the IdP's account "
        "to the existing user, or delete the existing one first."
    )


def _not_found(entry: LogEntry, facts: Facts, now: datetime, detail: str) -> str:
    if entry.resource_id is None or entry.resource_type not in ("User", "Group"):
        return f"404: {detail}."
    noun = _noun(entry)
    if facts.deleted_at is not None:
        return (
            f"404: the IdP refers to {noun} {entry.resource_id} which this directory does not "
            f"have: it was deleted on {facts.deleted_at:%Y-%m-%d %H:%M} UTC "
            f"({_ago(facts.deleted_at, now)}). The IdP still has the old id; re-sync the {noun}."
        )
    return (
        f"404: the IdP refers to {noun} {entry.resource_id} which was never provisioned here; "
        f"the IdP's stored id is stale, re-sync the {noun}."
    )


def _noun(entry: LogEntry) -> str:
    return (entry.resource_type or "resource").lower()


def _ago(at: datetime, now: datetime) -> str:
    elapsed = max(now - at, timedelta(0))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        count = int(elapsed.total_seconds() // size)
        if count:
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"
