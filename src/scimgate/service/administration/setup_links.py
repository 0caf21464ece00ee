"""Self-serve setup: an expiring one-time link through which a customer's IT admin connects an IdP.

The SaaS team creates a link for an organization (optionally for one of its
directories). The first browser to open it redeems it: the link is then bound
to that browser's session and cannot be opened anywhere else. Behind it, the
IT admin picks their IdP (which creates the directory), is shown the SCIM
token exactly once, and watches their own directory, and nothing else, come
alive. Every function here takes the link the session was opened by, so a
link can never reach another organization's directory.
"""

import hashlib
import secrets
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import Engine

from scimgate.config import GoogleSettings
from scimgate.records import frozen
from scimgate.scim.idp import IdpProfile
from scimgate.scim.normalized import DirectoryGroup, DirectoryUser
from scimgate.service.administration import google_directories, oauth_clients, tenants
from scimgate.service.administration.directory_view import directory_groups, directory_users
from scimgate.service.administration.google_directories import ConnectionRequest
from scimgate.service.directories import existing_directory, pushed_directory
from scimgate.service.errors import (
    Invalid,
    UnknownDirectory,
    UnknownOrganization,
    UnknownSetupLinkId,
)
from scimgate.service.operations import provisioning_log
from scimgate.service.portal import portal_sessions
from scimgate.service.portal.directory_summary import directory_summary
from scimgate.service.portal.portal_sessions import OpenedSession
from scimgate.store import google_connections as google_store
from scimgate.store import oauth_clients as oauth_store
from scimgate.store import provisioning_logs, setup_links
from scimgate.store import tenants as tenant_store
from scimgate.store.google_connections import GoogleConnection
from scimgate.store.ids import new_id, utcnow
from scimgate.store.portal_sessions import PortalSession
from scimgate.store.provisioning_logs import LogEntry, LogSearch
from scimgate.store.setup_links import SetupLink
from scimgate.store.tenants import Directory, Organization
from scimgate.store.transactions import reading, writing

LINK_PREFIX = "scimgate_setup_"

DEFAULT_VALIDITY = timedelta(days=7)
MAX_VALIDITY = timedelta(days=30)


class SetupLinkRefused(Exception):
    """The link cannot be used; the message says why, in words for the IT admin."""


class UnknownSetupLink(SetupLinkRefused):
    """No link has this secret (a typo, a truncated copy, a guess)."""


@frozen
class IssuedLink:
    """A link as it is shown once, at creation: its secret is never shown again."""

    link: SetupLink
    secret: str

    def url(self, root: str) -> str:
        return f"{root.rstrip('/')}/setup/{self.secret}"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_link(
    engine: Engine,
    organization_id: str,
    *,
    directory_id: str | None = None,
    valid_for: timedelta = DEFAULT_VALIDITY,
) -> IssuedLink:
    """A new link; ``UnknownOrganization``, ``UnknownDirectory`` for a directory not in it.

    ``Invalid`` for a validity that is not positive or longer than 30 days.
    """
    if not timedelta(0) < valid_for <= MAX_VALIDITY:
        raise Invalid("a setup link is valid for more than nothing and at most 30 days")
    secret = LINK_PREFIX + secrets.token_urlsafe(32)  # 256 bits of entropy
    now = utcnow()
    link = SetupLink(
        id=new_id(),
        organization_id=organization_id,
        created_at=now,
        expires_at=now + valid_for,
        opened_at=None,
        directory_id=directory_id,
        token_revealed_at=None,
        token_id=None,
        revoked_at=None,
    )
    with writing(engine) as conn:
        if tenant_store.get_organization(conn, organization_id) is None:
            raise UnknownOrganization(organization_id)
        if directory_id is not None:
            directory = tenant_store.get_directory(conn, directory_id)
            if directory is None or directory.organization_id != organization_id:
                raise UnknownDirectory(directory_id, organization_id)
        setup_links.insert_link(conn, link, _hash(secret))
    return IssuedLink(link, secret)


def list_links(engine: Engine, organization_id: str) -> list[SetupLink]:
    """An organization's links, newest first; ``UnknownOrganization`` for an unknown one."""
    with reading(engine) as conn:
        if tenant_store.get_organization(conn, organization_id) is None:
            raise UnknownOrganization(organization_id)
        return setup_links.organization_links(conn, organization_id)


def revoke_link(engine: Engine, link_id: str) -> SetupLink:
    """Revoke a link: its IT admin's browser loses access at once.

    ``UnknownSetupLinkId`` if no link has this id.
    """
    with writing(engine) as conn:
        setup_links.revoke(conn, link_id, utcnow())
        found = setup_links.get_link(conn, link_id)
    if found is None:
        raise UnknownSetupLinkId(link_id)
    return found


def state(link: SetupLink, now: datetime) -> str:
    """``revoked``, ``expired``, ``unopened`` or ``open``."""
    if link.revoked_at is not None:
        return "revoked"
    if now >= link.expires_at:
        return "expired"
    return "unopened" if link.opened_at is None else "open"


def redeem(engine: Engine, secret: str) -> OpenedSession:
    """Bind a link to the browser opening it, and open that browser's session.

    Refused for an unknown, revoked, expired or already opened link; a race
    between two browsers is won by exactly one.
    """
    now = utcnow()
    with writing(engine) as conn:
        link = setup_links.find_by_hash(conn, _hash(secret))
        if link is None:
            raise SetupLinkRefused("This setup link is not valid. Check that it was copied whole.")
        _check_usable(link, now)
        if not setup_links.mark_opened(conn, link.id, now):
            raise SetupLinkRefused(
                "This setup link has already been opened, in another browser. Links work once: "
                "ask your vendor for a new one."
            )
    return portal_sessions.open_setup_session(engine, link.id, link.expires_at)


def _check_usable(link: SetupLink, now: datetime) -> None:
    if link.revoked_at is not None:
        raise SetupLinkRefused("This setup link was revoked. Ask your vendor for a new one.")
    if now >= link.expires_at:
        raise SetupLinkRefused("This setup link has expired. Ask your vendor for a new one.")


def connect(
    engine: Engine, link: SetupLink, idp: IdpProfile, name: str, *, pulled: bool = False
) -> Directory:
    """The link's directory: created for the chosen IdP the first time, as it is afterwards.

    The directory gets no token here: the token is made when the IT admin
    asks to see it, so that its only copy is the one on their screen. A ``pulled``
    directory (Google Workspace, read by scimgate) takes no token: the IT admin
    connects it with :func:`connect_google`.
    """
    if not name.strip() or len(name) > 200:
        raise Invalid("A directory's name is 1 to 200 characters.")
    with writing(engine) as conn:
        locked = setup_links.get_link(conn, link.id, for_update=True)
        if locked is None:
            raise SetupLinkRefused("This setup link is not valid.")
        if locked.directory_id is not None:
            return existing_directory(conn, locked.directory_id)
        if pulled:
            directory = google_directories.new_pulled_directory(
                conn, locked.organization_id, name.strip()
            )
        else:
            directory = Directory(
                id=new_id(),
                organization_id=locked.organization_id,
                name=name.strip(),
                created_at=utcnow(),
                idp=idp,
            )
            tenant_store.insert_directory(conn, directory)
        setup_links.attach_directory(conn, locked.id, directory.id)
    return directory


def connect_google(
    engine: Engine, settings: GoogleSettings, link: SetupLink, request: ConnectionRequest
) -> GoogleConnection:
    """Check the link's pulled directory's connection with Google, then keep it: its first
    sync is due at once. ``GoogleRefused`` (nothing kept) says what Google refused."""
    with reading(engine) as conn:
        locked = setup_links.get_link(conn, link.id)
        if locked is None or locked.directory_id is None:
            raise SetupLinkRefused("Choose your identity provider first.")
        kept_key = google_store.credentials(conn, locked.directory_id)
    google_directories.check(settings, replace(request, key=request.key or kept_key))
    return google_directories.connect(engine, settings, locked.directory_id, request)


def google_connection(engine: Engine, link: SetupLink) -> GoogleConnection | None:
    """The link's pulled directory's connection, once the IT admin made it."""
    if link.directory_id is None:
        return None
    with reading(engine) as conn:
        return google_store.get(conn, link.directory_id)


def reveal_token(engine: Engine, link: SetupLink) -> tenants.IssuedToken:
    """The link's SCIM token, made now and shown this once; refused a second time."""
    now = utcnow()
    with writing(engine) as conn:
        locked = setup_links.get_link(conn, link.id, for_update=True)
        if locked is None or locked.directory_id is None:
            raise SetupLinkRefused("Choose your identity provider first.")
        pushed_directory(conn, locked.directory_id)
        if locked.token_revealed_at is not None:
            raise SetupLinkRefused(
                "The token was already shown, on "
                f"{locked.token_revealed_at:%Y-%m-%d at %H:%M} UTC, and is never shown again. "
                "If it was lost, ask your vendor for a new setup link."
            )
        issued = tenants.issue_token(conn, locked.directory_id, f"setup link {locked.id[:8]}")
        setup_links.mark_revealed(conn, locked.id, issued.record.id, now)
    return issued


def setup_oauth_client(engine: Engine, link: SetupLink) -> oauth_clients.IssuedClient:
    """OAuth client credentials for the link's directory, shown this once: the link's own
    client, made now, or given a new secret if the page made it before (its old secret and
    tokens then stop working), so that the page never leaves more than one client behind."""
    with writing(engine) as conn:
        locked = setup_links.get_link(conn, link.id, for_update=True)
        if locked is None or locked.directory_id is None:
            raise SetupLinkRefused("Choose your identity provider first.")
        pushed_directory(conn, locked.directory_id)
        name = f"setup link {locked.id[:8]}"
        for client in oauth_store.list_clients(conn, locked.directory_id):
            if client.name == name and client.revoked_at is None:
                renewed = oauth_clients.renew_secret(conn, locked.directory_id, client.id)
                if renewed is not None:  # else revoked meanwhile: a new one is made
                    return renewed
        return oauth_clients.add_client(conn, locked.directory_id, name)


@frozen
class LinkOpening:
    """What opening a link's address did."""

    link: SetupLink
    opened: OpenedSession | None
    """The new session; None when the browser already held this link's session."""


def open_link(engine: Engine, secret: str, held: PortalSession | None) -> LinkOpening:
    """Open a link's address: redeem it, unless ``held`` is already its session.

    The browser that redeemed a link may open its address again (a bookmark, a
    second tab) and is simply let back in; any other browser is refused, as
    ``redeem`` refuses it.
    """
    with reading(engine) as conn:
        link = setup_links.find_by_hash(conn, _hash(secret))
    if link is None:
        raise UnknownSetupLink("This setup link is not valid. Check that it was copied whole.")
    if held is not None and held.setup_link_id == link.id:
        return LinkOpening(link, None)
    return LinkOpening(link, redeem(engine, secret))


@frozen
class OpenLink:
    """A usable link with what its pages show: its organization and, once chosen, directory."""

    link: SetupLink
    organization: Organization
    directory: Directory | None


def open_link_view(engine: Engine, link_id: str) -> OpenLink:
    """The link a setup session belongs to, refused once it is revoked or expired."""
    with reading(engine) as conn:
        link = setup_links.get_link(conn, link_id)
        if link is None:
            raise SetupLinkRefused("This setup link is not valid.")
        _check_usable(link, utcnow())
        organization = tenant_store.get_organization(conn, link.organization_id)
        directory = (
            tenant_store.get_directory(conn, link.directory_id) if link.directory_id else None
        )
    if organization is None:
        raise SetupLinkRefused("This setup link is not valid.")
    return OpenLink(link, organization, directory)


RECENT = 5
"""How many of the latest users and groups the status shows."""

FAILURE_WINDOW = timedelta(hours=24)
FAILURE_COUNT_CAP = 100
"""Failures are counted up to this many (the status is polled every few seconds)."""


@frozen
class SetupStatus:
    """The link's directory coming alive, as the IT admin watches it."""

    directory: Directory
    """As it is now: ``activated_at`` is set by the first authenticated request."""

    users: int
    groups: int
    latest_users: list[DirectoryUser]
    """The users created last, newest first."""

    latest_groups: list[DirectoryGroup]
    failures: int
    """Failed requests (an answer of 400 or more) within ``FAILURE_WINDOW``."""

    @property
    def failures_capped(self) -> bool:
        return self.failures >= FAILURE_COUNT_CAP


def setup_status(engine: Engine, link: SetupLink, base_url: str) -> SetupStatus | None:
    """The status of the link's directory, or None before an IdP was chosen."""
    if link.directory_id is None:
        return None
    directory_id = link.directory_id
    summary = directory_summary(engine, directory_id)
    # Pages come in creation order: the last page holds the newest.
    _, users = directory_users(
        engine,
        directory_id,
        base_url,
        count=RECENT,
        start_index=max(summary.users - RECENT + 1, 1),
    )
    _, groups = directory_groups(
        engine,
        directory_id,
        base_url,
        count=RECENT,
        start_index=max(summary.groups - RECENT + 1, 1),
    )
    failed = LogSearch(
        directory_id=directory_id,
        limit=FAILURE_COUNT_CAP,
        status_from=400,
        since=utcnow() - FAILURE_WINDOW,
    )
    with reading(engine) as conn:
        failures = len(provisioning_logs.search(conn, failed))
    return SetupStatus(
        directory=summary.directory,
        users=summary.users,
        groups=summary.groups,
        latest_users=users[::-1],
        latest_groups=groups[::-1],
        failures=failures,
    )


def setup_log(
    engine: Engine,
    link: SetupLink,
    *,
    failures_only: bool = False,
    before: str | None = None,
    limit: int = 50,
) -> provisioning_log.LogPage:
    """A page of the link's own directory's provisioning log, newest first.

    ``before`` is the previous page's cursor; a malformed one starts at the newest.
    """
    if link.directory_id is None:
        return provisioning_log.LogPage([], None)
    status = "failures" if failures_only else None
    try:
        return provisioning_log.search(
            engine, link.directory_id, limit=limit, status=status, before=before
        )
    except ValueError:
        return provisioning_log.search(engine, link.directory_id, limit=limit, status=status)


def setup_log_entry(engine: Engine, link: SetupLink, log_id: str) -> LogEntry | None:
    """One entry of the link's own directory's log; None for any other directory's."""
    if link.directory_id is None:
        return None
    return provisioning_log.entry(engine, link.directory_id, log_id)
