"""Each directory's health at a glance, for the portal's dashboard and organization pages.

Health is judged from a few measures taken for many directories at once (see
``store.dashboard``): the requests its IdP made in the last 24 hours and how
many failed, when a token last opened it, whether its events reach the app.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from scimgate.records import frozen
from scimgate.service.directories import PULLED, existing_directory
from scimgate.service.directory_sync.sync_log import SYNC_METHOD
from scimgate.service.errors import UnknownOrganization
from scimgate.service.portal.directory_browser import MAX_QUERY, Page
from scimgate.store import dashboard, google_connections, oauth_clients, setup_links, tenants
from scimgate.store.dashboard import Span
from scimgate.store.google_connections import GoogleConnection
from scimgate.store.ids import utcnow
from scimgate.store.oauth_clients import OAuthClient
from scimgate.store.setup_links import SetupLink
from scimgate.store.tenants import Directory, Organization, TokenRecord
from scimgate.store.transactions import reading

WINDOW = timedelta(hours=24)
"""How far back the error rate and "recent requests" look."""

ERROR_THRESHOLD = 0.10
"""A directory whose share of failed requests reaches this is shown as failing."""


@frozen
class Health:
    """A directory's state in words, with the badge style that goes with it."""

    label: str
    badge: str
    explanation: str


WAITING = Health(
    "Waiting for first request", "badge-muted", "Its identity provider has not called yet."
)
HELD = Health(
    "Events held",
    "badge-warn",
    "Changes are stored but not sent to the app until someone reviews them "
    "(safety valve or dry run).",
)
ERRORS = Health("Errors", "badge-bad", "10 % or more of the last 24 hours' requests failed.")
IDLE = Health("Idle", "badge-warn", "No request in the last 24 hours, though there were before.")
HEALTHY = Health(
    "Healthy", "badge-ok", "Requests in the last 24 hours, few errors, events delivered."
)


@frozen
class DirectoryHealth:
    directory: Directory
    users: int
    groups: int
    last_request_at: datetime | None
    """The latest request seen: in the log, or the last use of a token (to the minute)."""

    requests: int
    """Requests logged in the last 24 hours; for a directory pulled from its source, the
    syncs (each sync's calls to the source are logged too, but a call the source refused
    for its quota is retried, and a sync that still fails is one failure)."""

    failed: int
    """Of those, the ones answered with a status of 400 or more (a sync: that failed)."""

    pending_deliveries: int
    """Webhook deliveries of its events not made yet, over every endpoint."""

    @property
    def error_rate(self) -> float | None:
        return self.failed / self.requests if self.requests else None

    @property
    def health(self) -> Health:
        if self.directory.activated_at is None and self.last_request_at is None:
            return WAITING
        if self.directory.delivery != "live":
            return HELD
        rate = self.error_rate
        if rate is not None and rate >= ERROR_THRESHOLD:
            return ERRORS
        if not self.requests:
            return IDLE
        return HEALTHY


@frozen
class OrganizationOverview:
    organization: Organization
    directories: list[DirectoryHealth]


@frozen
class OrganizationPage:
    overview: OrganizationOverview
    setup_links: list[SetupLink]
    """Newest first."""


@frozen
class DirectoryOverview:
    health: DirectoryHealth
    tokens: list[TokenRecord]
    """Oldest first; never their secrets."""

    oauth_clients: list[OAuthClient]
    """Oldest first; never their secrets."""

    google: GoogleConnection | None = None
    """How a directory pulled from Google Workspace is reached, and how its syncs went."""


@frozen
class Overview:
    """A page of organizations, by name, each with the health of its directories."""

    organizations: Page[OrganizationOverview]
    query: str


def overview(engine: Engine, query: str = "", start: int = 1, size: int = 25) -> Overview:
    """Organizations by name (those whose name contains ``query``), a page at a time."""
    query = query.strip()[:MAX_QUERY]
    with reading(engine) as conn:
        total, organizations = tenants.organizations_page(conn, query, start - 1, size)
        ids = tuple(organization.id for organization in organizations)
        measured = _measure(
            conn, Span(organization_ids=ids), tenants.organizations_directories(conn, ids)
        )
    by_organization: dict[str, list[DirectoryHealth]] = {}
    for each in measured:
        by_organization.setdefault(each.directory.organization_id, []).append(each)
    entries = [
        OrganizationOverview(organization, by_organization.get(organization.id, []))
        for organization in organizations
    ]
    return Overview(Page(entries, total, start, size), query)


def organization_page(engine: Engine, organization_id: str) -> OrganizationPage:
    """An organization's directories with their health, and its setup links.

    ``UnknownOrganization`` for an unknown organization.
    """
    with reading(engine) as conn:
        organization = tenants.get_organization(conn, organization_id)
        if organization is None:
            raise UnknownOrganization(organization_id)
        directories = tenants.organization_directories(conn, organization_id)
        measured = _measure(conn, Span(organization_ids=(organization_id,)), directories)
        links = setup_links.organization_links(conn, organization_id)
    return OrganizationPage(OrganizationOverview(organization, measured), links)


def directory_overview(engine: Engine, directory_id: str) -> DirectoryOverview:
    """A directory's health, its tokens, its OAuth clients and its Google Workspace connection;
    ``UnknownDirectory`` for an unknown directory."""
    with reading(engine) as conn:
        directory = existing_directory(conn, directory_id)
        measured = _measure(conn, Span(directory_id=directory_id), [directory])
        tokens = tenants.list_tokens(conn, directory_id)
        clients = oauth_clients.list_clients(conn, directory_id)
        google = google_connections.get(conn, directory_id)
    return DirectoryOverview(measured[0], tokens, clients, google)


def _measure(conn: Connection, span: Span, directories: list[Directory]) -> list[DirectoryHealth]:
    """The health of these directories (all within ``span``), one query per measure."""
    users = dashboard.user_counts(conn, span)
    groups = dashboard.group_counts(conn, span)
    token_use = dashboard.last_token_use(conn, span)
    recent = dashboard.request_counts(conn, span, utcnow() - WINDOW, SYNC_METHOD)
    pending = dashboard.pending_deliveries(conn, span)
    measured = []
    for directory in directories:
        requests = recent.get(directory.id)
        seen = [token_use.get(directory.id), requests.last_at if requests else None]
        total, failed = (0, 0) if requests is None else (requests.total, requests.failed)
        if requests is not None and directory.kind == PULLED:
            total, failed = requests.syncs, requests.failed_syncs
        measured.append(
            DirectoryHealth(
                directory=directory,
                users=users.get(directory.id, 0),
                groups=groups.get(directory.id, 0),
                last_request_at=max((at for at in seen if at is not None), default=None),
                requests=total,
                failed=failed,
                pending_deliveries=pending.get(directory.id, 0),
            )
        )
    return measured
