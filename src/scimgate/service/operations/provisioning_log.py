"""The provisioning log: what each directory's IdP sent, what it was answered, and why it failed.

Only requests that authenticated for the directory in their URL are kept, so a
directory's log never shows another tenant's traffic. Nothing secret is kept:
no header but the user agent, and no ``password`` value at any depth of a body.
"""

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Connection, Engine

from scimgate.config import LogPolicy
from scimgate.records import frozen
from scimgate.scim import jsontext
from scimgate.scim.idp import recognise
from scimgate.scim.text import holds_unstorable, storable
from scimgate.service.administration.tenants import TokenUse, record_use
from scimgate.service.errors import Invalid, UnknownDirectory
from scimgate.service.portal.diagnosis import Facts, Holder, diagnose, undeliverable_emails
from scimgate.service.provisioning import confirmations
from scimgate.service.provisioning.confirmations import Confirmation
from scimgate.store import provisioning_logs, tenants
from scimgate.store.ids import new_id
from scimgate.store.name_lookups import user_name_holder
from scimgate.store.provisioning_logs import LogEntry, LogSearch
from scimgate.store.resource_tables import USERS
from scimgate.store.tenants import Directory
from scimgate.store.transactions import reading, writing

BODY_CAP = 64 * 1024
"""Stored bodies are cut to this many characters of their JSON, written compactly (large member
lists, big Bulks)."""

_SURELY_UNDER_CAP = BODY_CAP // 6
"""Bytes of JSON that writing them again cannot stretch past the cap (at worst ``\\uXXXX`` per
byte)."""

REDACTED = "[redacted]"
WRITE_ONLY = "password"
"""SCIM's one write-only attribute: its values are never stored, redacted or not."""

RESOURCE_TYPES = {"users": "User", "groups": "Group"}
"""By the endpoint in the URL, lower-cased: endpoints are answered in any case."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@frozen
class CapturedRequest:
    """A SCIM request and its answer as the HTTP layer saw them, secrets still inside."""

    directory: Directory
    """The directory the request authenticated for."""

    request_id: str
    received_at: datetime
    method: str
    path: str
    query: str
    status: int
    latency_ms: int
    user_agent: str | None
    request_body: bytes | None
    """None when the body was too large to keep."""

    response_body: bytes | None
    response_document: Any = None
    """The value ``response_body`` was written from, when the edge wrote it from one: what
    parsing the body gives, without parsing it."""

    confirmations: Sequence[Confirmation] = ()
    """What the request's reads showed the IdP, written with the entry (``confirmations``)."""

    token_use: TokenUse | None = None
    """The token's last-used time, when it was due, written with the entry."""


def record(engine: Engine, batch: list[CapturedRequest], policy: LogPolicy) -> list[LogEntry]:
    """Write requests into their directories' logs, with their reads' confirmations and their
    tokens' use, in one transaction."""
    entries = [_entry(captured, policy) for captured in batch]
    with writing(engine) as conn:
        for captured in batch:
            confirmations.apply(conn, captured.confirmations)
            if captured.token_use is not None:
                record_use(conn, captured.token_use)
        diagnosed = [_diagnosed(conn, entry) for entry in entries]
        provisioning_logs.insert(conn, diagnosed)
    return diagnosed


def _diagnosed(conn: Connection, entry: LogEntry) -> LogEntry:
    """An entry with the diagnosis of its failure (a success has its own already)."""
    if entry.status < 400:
        return entry
    found = diagnose(entry, _facts(conn, entry), entry.received_at)
    return replace(entry, diagnosis=_text(found or entry.diagnosis, 2048))


def _entry(captured: CapturedRequest, policy: LogPolicy) -> LogEntry:
    directory = captured.directory
    request = _parse(captured.request_body)
    response = _parse(captured.response_body, captured.response_document)
    resource_type, resource_id = _resource(storable(captured.path), captured.status, response)
    error = response if captured.status >= 400 and isinstance(response, dict) else {}
    return LogEntry(
        id=new_id(),
        directory_id=directory.id,
        request_id=captured.request_id,
        received_at=captured.received_at,
        method=captured.method,
        path=storable(captured.path[:2048]),
        query=storable(captured.query[:4096]) or None,
        status=captured.status,
        latency_ms=captured.latency_ms,
        # Only what the request itself shows: the directory's declared IdP is not a client.
        client=recognise(captured.user_agent, query_names(captured.query)),
        user_agent=storable((captured.user_agent or "")[:512]) or None,
        scim_type=_text(error.get("scimType"), 32),
        error_detail=_text(error.get("detail"), 2048),
        resource_type=resource_type,
        resource_id=resource_id,
        user_name=None if "username" in policy.redact else _user_name(request, response),
        request_body=_stored(request, captured.request_body, policy, answer=False),
        response_body=_stored(response, captured.response_body, policy, answer=True),
        diagnosis=_text(undeliverable_emails(response, shown="emails" not in policy.redact), 2048)
        if captured.status < 300
        else None,
    )


def query_names(query: str) -> list[str]:
    """The names of a query string's parameters, as ``urllib.parse.parse_qs`` reads them
    (with blank values kept), without decoding their values: the log needs only the names."""
    return [
        unquote(field.partition("=")[0].replace("+", " ")) for field in query.split("&") if field
    ]


def _facts(conn: Connection, entry: LogEntry) -> Facts:
    """What the diagnosis of a failure needs to know about the directory's users."""
    if entry.status == 409 and entry.user_name:
        holder_id = user_name_holder(conn, entry.directory_id, entry.user_name)
        holder = USERS.get(conn, entry.directory_id, holder_id) if holder_id else None
        if holder is not None:
            active = holder.doc.get("active") is not False
            return Facts(holder=Holder(holder.id, active, holder.modified_at))
    if entry.status == 404 and entry.resource_type == "User" and entry.resource_id:
        return Facts(
            deleted_at=provisioning_logs.deleted_at(conn, entry.directory_id, entry.resource_id)
        )
    return Facts()


_UNREADABLE = object()
"""A body that is not JSON: it is not stored, since it may hide a secret we cannot find."""

_UNSTORABLE = object()
"""A JSON body holding text no database can store (the request was refused for it)."""

_TOO_DEEP = object()
"""A JSON body nested deeper than ``MAX_DEPTH``: scrubbing and storing it would recurse as deep."""

MAX_DEPTH = 64
"""Arrays and objects within each other; a SCIM message needs fewer than ten."""


def _parse(body: bytes | None, written: Any = None) -> Any:
    """A body's value, checked as the log keeps it; parsed unless ``written`` is the value the
    body was written from."""
    if not body:
        return None
    if written is not None:
        parsed = written
    else:
        try:
            parsed = jsontext.loads(body)
        except RecursionError:
            return _TOO_DEEP
        except ValueError:  # not JSON, not UTF-8, or an integer of thousands of digits
            return _UNREADABLE
    # Nesting deeper than the limit takes more brackets than it: most bodies are not walked.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _nests_deeper(parsed, MAX_DEPTH):
        return _TOO_DEEP
    return _UNSTORABLE if _may_hold_unstorable(body) and holds_unstorable(parsed) else parsed


def _may_hold_unstorable(raw: bytes) -> bool:
    """Whether JSON bytes may decode to NUL or a surrogate: only through an escape (``\\u``),
    a NUL byte (UTF-16 and UTF-32 text is full of them) or a surrogate's UTF-8 form, which
    starts with the byte 0xED (as Hangul syllables do too).

    Searched with ``bytes.find``: on Python 3.11, ``piece in raw`` first tries ``piece`` as
    an integer and builds the ``TypeError`` that refuses it: some 2,000 instructions a test,
    where the search itself takes under a thousand."""
    return raw.find(b"\\u") != -1 or raw.find(b"\x00") != -1 or raw.find(b"\xed") != -1


def _nests_deeper(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` deep (walked without recursion;
    only arrays and objects are queued, since most values of a body are neither)."""
    pending = [(value, 0)] if isinstance(value, dict | list) else []
    while pending:
        item, depth = pending.pop()
        if depth >= limit:
            return True
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                pending.append((child, depth + 1))
    return False


def _stored(parsed: Any, raw: bytes | None, policy: LogPolicy, *, answer: bool) -> Any:
    """A body as the log keeps it: scrubbed, capped, or only its size.

    scimgate's own answers never carry a password (SCIM never returns one), so
    they are only scrubbed of the attributes the policy redacts.
    """
    if not policy.bodies:
        return None
    if raw is None:
        return {"omitted": "too large to keep"}
    if parsed is None:
        return None
    if parsed is _UNREADABLE:
        return {"omitted": "not JSON", "bytes": len(raw)}
    if parsed is _UNSTORABLE:
        return {"omitted": "holds NUL or unpaired surrogates", "bytes": len(raw)}
    if parsed is _TOO_DEEP:
        return {"omitted": f"nests deeper than {MAX_DEPTH} levels", "bytes": len(raw)}
    clean = not policy.redact and (answer or not _may_hold_password(raw))
    if clean and len(raw) <= _SURELY_UNDER_CAP:
        return parsed  # nothing to scrub, and short enough however it is written again
    scrubbed = parsed if clean else scrub(parsed, policy.redact)
    text = jsontext.dumps(scrubbed)
    if len(text) > BODY_CAP:
        return {"truncated": True, "characters": len(text), "head": text[:BODY_CAP]}
    return scrubbed


def _may_hold_password(raw: bytes) -> bool:
    """Whether a body may name ``password``, even spelled with JSON escapes."""
    return raw.lower().find(b"password") != -1 or raw.find(b"\\u") != -1  # as above


def scrub(value: Any, redact: frozenset[str]) -> Any:
    """A copy of a body without ``password`` values and with the redacted attributes masked.

    Attributes are matched by name at any depth, in any case, URN-qualified or
    not; a PATCH operation is matched by the attribute its ``path`` names,
    whatever the case of its ``path`` and ``value`` keys (the raw body is logged,
    not the canonical one the service reads).
    """
    if isinstance(value, list):
        return [scrub(item, redact) for item in value]
    if not isinstance(value, dict):
        return value
    target = next((item for key, item in value.items() if str(key).lower() == "path"), None)
    values = [key for key in value if str(key).lower() == "value"]
    if isinstance(target, str) and values:
        name = _attribute(target)
        kept = {key: item for key, item in value.items() if key not in values}
        if name == WRITE_ONLY:
            return kept
        if name in redact:
            return {**kept, **dict.fromkeys(values, REDACTED)}
    cleaned: dict[str, Any] = {}
    for key, item in value.items():
        name = _attribute(key)
        if name == WRITE_ONLY:
            continue
        cleaned[key] = REDACTED if name in redact else scrub(item, redact)
    return cleaned


def _attribute(path: str) -> str:
    """The top attribute a key or PATCH path names: ``emails[type eq "work"].value`` → emails."""
    head = path.split("[", 1)[0]
    if head.lower().startswith("urn:"):
        head = head.rsplit(":", 1)[-1]
    return head.split(".", 1)[0].strip().lower()


def _resource(path: str, status: int, response: Any) -> tuple[str | None, str | None]:
    """The resource type and id a request was about: from its URL, or the resource created."""
    parts = [part for part in path.split("/")[4:] if part]
    if not parts:
        return None, None
    resource_type = RESOURCE_TYPES.get(parts[0].lower(), parts[0])[:16]
    if len(parts) > 1 and not parts[1].startswith("."):
        return resource_type, parts[1][:64]
    if status < 300 and isinstance(response, dict) and isinstance(response.get("id"), str):
        return resource_type, response["id"][:64]
    return resource_type, None


def _user_name(request: Any, response: Any) -> str | None:
    for body in (request, response):
        if isinstance(body, dict) and isinstance(body.get("userName"), str):
            return str(body["userName"])[:512]
    return None


def _text(value: Any, limit: int) -> str | None:
    return storable(str(value)[:limit]) if value is not None else None


@frozen
class LogPage:
    entries: list[LogEntry]
    next_cursor: str | None


def search(
    engine: Engine,
    directory_id: str,
    *,
    limit: int = 50,
    status: str | None = None,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: str | None = None,
) -> LogPage:
    """A page of a directory's log, newest first; ``UnknownDirectory`` for an unknown directory.

    ``status`` is one status (``409``) or a class (``4xx``); ``before`` is the
    previous page's ``next_cursor``. ``Invalid`` for a malformed one.
    """
    status_from, status_to = parse_status(status) if status else (None, None)
    where = LogSearch(
        directory_id=directory_id,
        limit=limit,
        status_from=status_from,
        status_to=status_to,
        user=user,
        since=since,
        until=until,
        before=_decode_cursor(before) if before else None,
    )
    with reading(engine) as conn:
        if tenants.get_directory(conn, directory_id) is None:
            raise UnknownDirectory(directory_id)
        found = provisioning_logs.search(conn, where)
    last = found[-1] if len(found) == limit else None
    return LogPage(found, _encode_cursor(last) if last else None)


def parse_status(text: str) -> tuple[int, int]:
    """``409`` → (409, 409); ``4xx`` → (400, 499); ``failures`` → (400, 599)."""
    text = text.strip().lower()
    if text == "failures":
        return 400, 599
    if len(text) == 3 and text[0] in "12345" and text[1:] == "xx":
        low = int(text[0]) * 100
        return low, low + 99
    if len(text) == 3 and text.isdigit():
        return int(text), int(text)
    raise Invalid(f"status: give a status like 409, a class like 4xx, or failures, not {text!r}")


def _encode_cursor(entry: LogEntry) -> str:
    return f"{(entry.received_at - _EPOCH) // _MICROSECOND}.{entry.id}"


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    micros, _, log_id = cursor.partition(".")
    if micros.isascii() and micros.isdigit() and log_id:
        try:
            return _EPOCH + int(micros) * _MICROSECOND, log_id
        except OverflowError:
            pass
    raise Invalid(f"before: {cursor[:100]!r} is not a cursor this service gave")


def entry(engine: Engine, directory_id: str, log_id: str) -> LogEntry | None:
    """One entry of a directory's log, with its bodies and diagnosis."""
    with reading(engine) as conn:
        return provisioning_logs.get(conn, log_id, directory_id)


def find(engine: Engine, key: str) -> LogEntry | None:
    """The entry with this log id, or else the one of this request id, in any directory."""
    with reading(engine) as conn:
        return provisioning_logs.get(conn, key) or provisioning_logs.by_request_id(conn, key)


def purge_expired(engine: Engine, now: datetime, policy: LogPolicy) -> int:
    """Remove entries older than the retention period; the number removed."""
    with writing(engine) as conn:
        return provisioning_logs.purge_before(conn, now - timedelta(days=policy.retention_days))


def as_dict(found: LogEntry, *, bodies: bool) -> dict[str, Any]:
    """An entry as the management API and the CLI show it."""
    skipped = () if bodies else ("request_body", "response_body")
    return {key: value for key, value in vars(found).items() if key not in skipped}
