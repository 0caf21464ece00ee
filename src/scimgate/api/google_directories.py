"""Directories pulled from Google Workspace over the management API.

Create one (connected at once, its first sync due at once), read how its syncs
go, change its connection, ask for a sync now, and check the connection against
Google. The service account key is taken, never given back.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StringConstraints

from scimgate.api.directories import DirectoryOut, directory_out
from scimgate.api.engine import EngineDep
from scimgate.api.management import note_target, require_admin
from scimgate.api.public_root import public_root
from scimgate.api.shapes import Name
from scimgate.config import GoogleSettings
from scimgate.scim.google_workspace import ScopeKind, SyncScope
from scimgate.service.administration import google_directories
from scimgate.service.administration.google_directories import ConnectionRequest
from scimgate.service.errors import Invalid
from scimgate.store.google_connections import GoogleConnection

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])

Email = Annotated[str, StringConstraints(min_length=3, max_length=320)]


class SyncScopeIn(BaseModel):
    kind: ScopeKind = Field(
        ScopeKind.all, description="all, org_units (and the units beneath them) or groups"
    )
    values: list[Annotated[str, StringConstraints(min_length=1, max_length=512)]] = Field(
        [], max_length=200, description="Org unit paths (/Sales) or group e-mail addresses"
    )


class GoogleConnectionIn(BaseModel):
    admin_email: Email = Field(description="An administrator of the Google account to act as")
    customer_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        "my_customer", description="Google's customer ID (C…), or my_customer"
    )
    service_account_key: dict[str, Any] | None = Field(
        None,
        description="The service account's JSON key, whole; omitted: the key the directory "
        "has, else the operator's service account",
    )
    scope: SyncScopeIn = Field(default_factory=SyncScopeIn)
    interval_minutes: float | None = Field(
        None, ge=1, le=1440, description="Between full syncs; omitted: the server's default"
    )


class GoogleDirectoryIn(GoogleConnectionIn):
    name: Name
    dry_run: bool = Field(False, description="Hold every event until the first sync is reviewed")


class GoogleConnectionOut(BaseModel):
    directory_id: str
    customer_id: str
    admin_email: str
    client_id: str = Field(description="The service account's client ID, to grant delegation to")
    client_email: str
    delegation_scopes: str = Field(description="The OAuth scopes to grant, comma-separated")
    scope: SyncScopeIn
    interval_minutes: float
    next_sync_at: datetime
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None = Field(description="Why the last sync failed or refused, in words")
    last_counts: dict[str, int] | None
    empty_refused_at: datetime | None = Field(
        description="When the last sync found nobody in scope while the directory had users, "
        "and deprovisioned no one (see allow-empty)"
    )
    empty_allowed_at: datetime | None = Field(
        description="When the next sync was allowed to deprovision everyone if it finds "
        "nobody in scope"
    )


class NewGoogleDirectory(BaseModel):
    directory: DirectoryOut
    google: GoogleConnectionOut


class CheckOut(BaseModel):
    ok: bool = Field(description="Google let the service account read the account's users")


def _settings(request: Request) -> GoogleSettings:
    settings: GoogleSettings = request.app.state.settings.google
    return settings


def _request(body: GoogleConnectionIn) -> ConnectionRequest:
    key = body.service_account_key
    try:
        scope = SyncScope(body.scope.kind, tuple(body.scope.values))
    except ValueError as exc:
        raise Invalid(f"scope: {exc}") from None
    return ConnectionRequest(
        admin_email=body.admin_email,
        customer_id=body.customer_id,
        key=google_directories.checked_key(key) if key is not None else None,
        scope=scope,
        interval_minutes=body.interval_minutes,
    )


def _out(connection: GoogleConnection) -> GoogleConnectionOut:
    return GoogleConnectionOut(
        directory_id=connection.directory_id,
        customer_id=connection.customer_id,
        admin_email=connection.admin_email,
        client_id=connection.client_id,
        client_email=connection.client_email,
        delegation_scopes=google_directories.delegation_scopes(),
        scope=SyncScopeIn(kind=ScopeKind(connection.scope_kind), values=connection.scope_values),
        interval_minutes=connection.interval_minutes,
        next_sync_at=connection.next_sync_at,
        last_started_at=connection.last_started_at,
        last_finished_at=connection.last_finished_at,
        last_success_at=connection.last_success_at,
        last_error=connection.last_error,
        last_counts=connection.last_counts,
        empty_refused_at=connection.empty_refused_at,
        empty_allowed_at=connection.empty_allowed_at,
    )


@router.post(
    "/organizations/{organization_id}/google-directories",
    status_code=201,
    summary="Create a directory pulled from Google Workspace; its first sync is due at once",
)
def create_google_directory(
    request: Request, engine: EngineDep, organization_id: str, body: GoogleDirectoryIn
) -> NewGoogleDirectory:
    directory, connection = google_directories.create_google_directory(
        engine,
        _settings(request),
        organization_id,
        body.name,
        _request(body),
        dry_run=body.dry_run,
    )
    note_target(request, "directory", directory.id, organization_id=organization_id)
    return NewGoogleDirectory(
        directory=directory_out(directory, public_root(request)), google=_out(connection)
    )


@router.get(
    "/directories/{directory_id}/google", summary="A pulled directory's connection and syncs"
)
def get_connection(engine: EngineDep, directory_id: str) -> GoogleConnectionOut:
    return _out(google_directories.connection_of(engine, directory_id))


@router.put(
    "/directories/{directory_id}/google",
    summary="Change how a pulled directory reaches Google; its next sync is due at once",
)
def put_connection(
    request: Request, engine: EngineDep, directory_id: str, body: GoogleConnectionIn
) -> GoogleConnectionOut:
    note_target(request, "directory", directory_id)
    return _out(
        google_directories.connect(engine, _settings(request), directory_id, _request(body))
    )


@router.post(
    "/directories/{directory_id}/google/sync",
    status_code=202,
    summary="Sync a pulled directory now: the next free worker runs it",
)
def sync_now(request: Request, engine: EngineDep, directory_id: str) -> GoogleConnectionOut:
    note_target(request, "directory", directory_id)
    return _out(google_directories.sync_soon(engine, directory_id))


@router.post(
    "/directories/{directory_id}/google/allow-empty",
    status_code=202,
    summary="Let the next sync deprovision everyone if Google lists nobody in scope; "
    "it is due at once",
)
def allow_empty(request: Request, engine: EngineDep, directory_id: str) -> GoogleConnectionOut:
    note_target(request, "directory", directory_id)
    return _out(google_directories.allow_empty(engine, directory_id))


@router.post(
    "/directories/{directory_id}/google/check",
    summary="Ask Google for one user as the sync would; 409 says what Google refused",
)
def check_connection(request: Request, engine: EngineDep, directory_id: str) -> CheckOut:
    google_directories.check_directory(engine, _settings(request), directory_id)
    return CheckOut(ok=True)
