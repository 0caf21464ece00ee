"""Directories pulled from Google Workspace: create one, connect it, check it, sync it now.

A pulled directory takes no SCIM token: scimgate reads the customer's Google
Workspace through the Directory API, as a service account with domain-wide
delegation acting as one of its administrators. The service account is the
customer's own (its JSON key uploaded here, kept encrypted at rest when keys are
configured), or the operator's (``SCIMGATE_GOOGLE_SERVICE_ACCOUNT_KEY_FILE``),
to which the customer's administrator grants domain-wide delegation instead of
creating a key.
"""

from __future__ import annotations

import json
import re
from dataclasses import field, replace
from typing import Any

from sqlalchemy import Connection, Engine

from scimgate.config import GoogleSettings
from scimgate.records import frozen
from scimgate.scim.extensions import definition, read_schema
from scimgate.scim.google_workspace import GOOGLE_DEFINITION, SyncScope
from scimgate.scim.idp import IdpProfile
from scimgate.service.directories import PULLED, existing_directory
from scimgate.service.directory_sync.google_api import SCOPES, GoogleApiError
from scimgate.service.directory_sync.google_runs import (
    SyncReport,
    directory_api,
    operator_key,
    run_and_record,
)
from scimgate.service.errors import Conflict, Invalid, NotFound, UnknownOrganization
from scimgate.store import extension_schemas, google_connections, tenants
from scimgate.store.extension_schemas import RegisteredSchema
from scimgate.store.google_connections import GoogleConnection
from scimgate.store.ids import new_id, utcnow
from scimgate.store.tenants import LIVE, Directory
from scimgate.store.transactions import reading, writing

MY_CUSTOMER = "my_customer"
"""The Directory API's name for the account of the administrator it acts as."""

MIN_INTERVAL_MINUTES = 1.0
"""The shortest interval an administrator may ask for (the operator's default may be shorter)."""
_CUSTOMER_ID = re.compile(r"^(my_customer|C[0-9A-Za-z]{5,30})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_KEY_FIELDS = ("client_email", "client_id", "private_key")


@frozen
class ConnectionRequest:
    """How a directory reaches its Google Workspace, as an administrator gave it."""

    admin_email: str
    customer_id: str = MY_CUSTOMER
    key: dict[str, Any] | None = None
    """The customer's service account key; None: the operator's service account."""

    scope: SyncScope = field(default_factory=SyncScope)
    interval_minutes: float | None = None
    """Between full syncs; None: the operator's default."""


class NotPulled(Conflict):
    def __init__(self, directory: Directory) -> None:
        super().__init__(
            f"directory {directory.id} is pushed to by its IdP through SCIM, not pulled from "
            "Google Workspace: create a Google Workspace directory instead"
        )


class NotConnected(NotFound):
    def __init__(self, directory_id: str) -> None:
        super().__init__(f"directory {directory_id} has no Google Workspace connection yet")


class GoogleRefused(Conflict):
    """Google refused the connection: the sentence says what to fix."""


def operator_client(settings: GoogleSettings) -> tuple[str, str] | None:
    """The operator's service account's client ID and address, when one is configured (and
    readable: a sync says why it is not)."""
    try:
        key = operator_key(settings)
    except GoogleApiError:
        return None
    if key is None:
        return None
    return str(key.get("client_id", "")), str(key.get("client_email", ""))


def create_google_directory(
    engine: Engine,
    settings: GoogleSettings,
    organization_id: str,
    name: str,
    request: ConnectionRequest,
    *,
    dry_run: bool = False,
) -> tuple[Directory, GoogleConnection]:
    """A directory pulled from Google Workspace, connected; its first sync is due at once."""
    with writing(engine) as conn:
        if tenants.get_organization(conn, organization_id) is None:
            raise UnknownOrganization(organization_id)
        directory = new_pulled_directory(conn, organization_id, name, dry_run=dry_run)
        connection = _connection(directory.id, request, settings, None)
        google_connections.save(conn, connection, request.key)
    return directory, connection


def new_pulled_directory(
    conn: Connection, organization_id: str, name: str, *, dry_run: bool = False
) -> Directory:
    """A Google Workspace directory not connected yet, inside the caller's transaction
    (the setup page makes one, then the IT admin connects it). Its users may carry the
    extension of what only Google holds (``GOOGLE_DEFINITION``)."""
    directory = Directory(
        id=new_id(),
        organization_id=organization_id,
        name=name,
        created_at=utcnow(),
        idp=IdpProfile.google,
        delivery="review" if dry_run else LIVE,
        kind=PULLED,
    )
    tenants.insert_directory(conn, directory)
    schema = read_schema(GOOGLE_DEFINITION, "User")
    extension_schemas.add(
        conn,
        directory.id,
        RegisteredSchema(str(schema.id), "User", definition(schema), directory.created_at),
    )
    return directory


def connect(
    engine: Engine, settings: GoogleSettings, directory_id: str, request: ConnectionRequest
) -> GoogleConnection:
    """Set (or replace) how a pulled directory reaches Google; its next sync is due at once.

    A request without a key keeps the key the directory has, if it has one.
    """
    with writing(engine) as conn:
        directory = existing_directory(conn, directory_id)
        if directory.kind != PULLED:
            raise NotPulled(directory)
        before = google_connections.get(conn, directory_id)
        key = request.key or google_connections.credentials(conn, directory_id)
        connection = _connection(directory_id, request, settings, before)
        google_connections.save(conn, connection, key)
    return connection


def check(settings: GoogleSettings, request: ConnectionRequest) -> None:
    """Ask Google for one user as the connection would: ``GoogleRefused`` says what to fix."""
    _ask_google(_connection("", request, settings, None), request.key, settings)


def check_directory(engine: Engine, settings: GoogleSettings, directory_id: str) -> None:
    """:func:`check` with the directory's stored connection."""
    with reading(engine) as conn:
        connection = _connection_in(conn, directory_id)
        key = google_connections.credentials(conn, directory_id)
    _ask_google(connection, key, settings)


def _ask_google(
    connection: GoogleConnection, key: dict[str, Any] | None, settings: GoogleSettings
) -> None:
    try:
        with directory_api(connection, key, settings) as api:
            api.check()
    except GoogleApiError as exc:
        raise GoogleRefused(str(exc)) from None


def connection_of(engine: Engine, directory_id: str) -> GoogleConnection:
    with reading(engine) as conn:
        return _connection_in(conn, directory_id)


def _connection_in(conn: Connection, directory_id: str) -> GoogleConnection:
    """A pulled directory's connection; ``NotPulled`` or ``NotConnected`` when it has none."""
    directory = existing_directory(conn, directory_id)
    if directory.kind != PULLED:
        raise NotPulled(directory)
    found = google_connections.get(conn, directory_id)
    if found is None:
        raise NotConnected(directory_id)
    return found


def sync_soon(engine: Engine, directory_id: str) -> GoogleConnection:
    """Make the directory's sync due now: the next free worker runs it."""
    connection_of(engine, directory_id)
    with writing(engine) as conn:
        google_connections.request_sync(conn, directory_id, utcnow())
    return connection_of(engine, directory_id)


def allow_empty(engine: Engine, directory_id: str) -> GoogleConnection:
    """Let the next sync deprovision everyone if Google lists nobody in scope, and make it
    due now.

    Without this a sync refuses to: an empty answer is as likely a wrong customer ID or
    scope as everyone leaving. The allowance holds for one completed sync, whatever it
    finds; the deprovisionings it then makes still pass the directory's safety valve.
    """
    connection_of(engine, directory_id)
    with writing(engine) as conn:
        google_connections.allow_empty(conn, directory_id, utcnow())
    return connection_of(engine, directory_id)


def sync_here(engine: Engine, settings: GoogleSettings, directory_id: str) -> SyncReport:
    """Run the directory's sync in this process, now (``scimgate google sync``)."""
    connection_of(engine, directory_id)
    return run_and_record(engine, settings, directory_id)


def read_key(text: str) -> dict[str, Any]:
    """A service account's JSON key from its file's text, checked (:func:`checked_key`)."""
    try:
        key = json.loads(text)
    except ValueError:
        raise Invalid("the service account key is not JSON: upload the .json key file") from None
    return checked_key(key)


def checked_key(key: Any) -> dict[str, Any]:
    """A service account's JSON key, checked for what the sync needs."""
    if not isinstance(key, dict) or key.get("type") != "service_account":
        raise Invalid(
            "this is not a service account key: in the Google Cloud console, open the "
            "service account, Keys > Add key > Create new key > JSON, and give that file"
        )
    missing = [name for name in _KEY_FIELDS if not key.get(name)]
    if missing:
        raise Invalid(f"the service account key lacks {', '.join(missing)}: give the whole file")
    return key


def _connection(
    directory_id: str,
    request: ConnectionRequest,
    settings: GoogleSettings,
    before: GoogleConnection | None,
) -> GoogleConnection:
    if not _EMAIL.match(request.admin_email):
        raise Invalid(
            f"admin_email: give the address of an administrator of the Google account, "
            f"not {request.admin_email!r}"
        )
    if not _CUSTOMER_ID.match(request.customer_id):
        raise Invalid(
            f"customer_id: Google's customer ID starts with C (Admin console > Account > "
            f"Account settings), or use {MY_CUSTOMER}; not {request.customer_id!r}"
        )
    asked = request.interval_minutes
    if asked is not None and asked < MIN_INTERVAL_MINUTES:
        raise Invalid(f"interval_minutes: at least {MIN_INTERVAL_MINUTES:g}, not {asked:g}")
    interval = asked or (before.interval_minutes if before else settings.sync_minutes)
    key = request.key
    if key is None and before is None and operator_client(settings) is None:
        raise Invalid(
            "service_account_key: upload the JSON key of a service account with domain-wide "
            "delegation (this server has no service account of its own to offer)"
        )
    if key:  # a service account's key, or an administrator's consent (no account address)
        client = (str(key.get("client_id", "")), str(key.get("client_email", "")))
    elif before is not None and before.client_id:
        client = (before.client_id, before.client_email)
    else:
        client = operator_client(settings) or ("", "")
    now = utcnow()
    made = GoogleConnection(
        directory_id=directory_id,
        customer_id=request.customer_id,
        admin_email=request.admin_email,
        client_id=client[0],
        client_email=client[1],
        scope_kind=request.scope.kind.value,
        scope_values=list(request.scope.values),
        interval_minutes=interval,
        next_sync_at=now,
        created_at=before.created_at if before else now,
        updated_at=now,
    )
    return (
        made
        if before is None
        else replace(
            made,
            last_started_at=before.last_started_at,
            last_finished_at=before.last_finished_at,
            last_success_at=before.last_success_at,
            last_error=before.last_error,
            last_counts=before.last_counts,
        )
    )


def delegation_scopes() -> str:
    """What the administrator pastes into domain-wide delegation's OAuth scopes field."""
    return ",".join(SCOPES)
