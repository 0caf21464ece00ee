"""Pulling a Google Workspace directory: the sync against a fake of the Directory API.

The fake (``scimgate.simulator.google_workspace``) serves the Directory API and Google's token
endpoint on loopback; the sync reaches it through google-auth and httpx, as it
reaches Google, with only the two addresses changed.
"""

import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, update

from event_support import published
from scimgate.config import GoogleSettings
from scimgate.scim.google_workspace import GOOGLE_SCHEMA, ScopeKind, SyncScope
from scimgate.service.administration import google_directories, tenants
from scimgate.service.administration.google_directories import ConnectionRequest
from scimgate.service.directories import PulledDirectory
from scimgate.service.directory_sync import google_runs, google_watch
from scimgate.service.directory_sync.google_api import SCOPES
from scimgate.service.errors import Conflict
from scimgate.service.event_stream import publishing, safety
from scimgate.service.portal import dashboard as portal_dashboard
from scimgate.service.provisioning import confirmations, extension_schemas
from scimgate.service.provisioning.every_resource import every_resource
from scimgate.simulator.google_workspace import FakeGoogle, Workspace, serving_workspace
from scimgate.store import google_connections, provisioning_logs
from scimgate.store.engine import WRITE_OPTION
from scimgate.store.ids import utcnow
from scimgate.store.provisioning_logs import LogSearch
from scimgate.store.resource_tables import GROUPS, USERS
from scimgate.store.tables.pull import google_channels as google_channels_table
from scimgate.store.tables.pull import google_connections as google_connections_table
from scimgate.store.tables.resources import groups as groups_table
from scimgate.store.tables.resources import users as users_table
from scimgate.store.transactions import reading, writing

ADMIN = "admin@example.com"
EVERYONE = SyncScope()


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with serving_workspace() as served:
        served.workspace.add_user(ADMIN, "Ada", "Admin", is_admin=True)
        yield served


def settings_for(google: FakeGoogle) -> GoogleSettings:
    return GoogleSettings(api_url=google.url, token_url=google.token_uri, backoff_seconds=0.001)


def connected(
    engine: Engine, google: FakeGoogle, scope: SyncScope = EVERYONE, *, delegate: bool = True
) -> str:
    """A new pulled directory connected to the fake with a key of its own; its id."""
    key = google.workspace.service_account_key()
    if delegate:
        google.workspace.grant_delegation(key["client_id"], SCOPES)
    organization = tenants.create_organization(engine, f"org {secrets.token_hex(3)}")
    directory, _ = google_directories.create_google_directory(
        engine,
        settings_for(google),
        organization.id,
        "Google",
        ConnectionRequest(admin_email=ADMIN, key=key, scope=scope),
    )
    return directory.id


def sync(engine: Engine, google: FakeGoogle, directory_id: str) -> Any:
    return google_directories.sync_here(engine, settings_for(google), directory_id)


def kinds(engine: Engine, directory_id: str, after: int = 0) -> Counter[str]:
    return Counter(event.type for event in published(engine, directory_id) if event.seq > after)


def users_by_email(engine: Engine, directory_id: str) -> dict[str, Any]:
    return {s.doc["userName"]: s for s in every_resource(engine, directory_id, USERS)}


def test_a_first_sync_provisions_people_groups_and_memberships_once(
    engine: Engine, google: FakeGoogle
) -> None:
    google.workspace.populate(300, groups=6, members_per_group=40, org_units=["/Sales", "/Eng"])
    directory_id = connected(engine, google)

    report = sync(engine, google, directory_id)

    assert report.error is None
    counts = report.counts
    assert (counts.users, counts.users_created) == (301, 301)
    assert (counts.groups, counts.groups_created, counts.memberships) == (6, 6, 240)
    assert counts.api_calls >= 3
    assert kinds(engine, directory_id) == {
        "user.created": 301,
        "group.created": 6,
        "group.user_added": 240,
    }
    stored = users_by_email(engine, directory_id)
    someone = next(s for s in stored.values() if s.doc["userName"] != ADMIN)
    assert someone.doc["externalId"].startswith("1")
    assert someone.doc["emails"] == [
        {"primary": True, "type": "work", "value": someone.doc["userName"]}
    ]
    # Managers come first, so a new person's manager is already there to point at.
    managed = [
        s
        for s in stored.values()
        if "manager" in s.doc.get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", {})
    ]
    assert len(managed) == 300 - 300 // 50
    ids = {s.id for s in stored.values()}
    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    assert all(s.doc[enterprise]["manager"]["value"] in ids for s in managed)

    # Nothing changed in Google: the next sync writes nothing and publishes nothing.
    before = len(published(engine, directory_id))
    again = sync(engine, google, directory_id)
    assert again.error is None
    assert again.counts.users_created == again.counts.users_updated == 0
    assert again.counts.groups_members_changed == 0
    assert len(published(engine, directory_id)) == before


def test_suspension_leaving_the_scope_and_deletion_each_reach_the_app_once(
    engine: Engine, google: FakeGoogle
) -> None:
    workspace = google.workspace
    workspace.populate(60, groups=2, members_per_group=20, org_units=["/Sales", "/Sales/East"])
    scope = SyncScope(ScopeKind.org_units, ("/Sales",))
    directory_id = connected(engine, google, scope)
    assert sync(engine, google, directory_id).error is None
    people = [u for u in workspace.users() if u.primary_email != ADMIN]
    suspended, moved, deleted = people[1], people[2], people[3]
    # The admin is in "/", outside the scope: never provisioned.
    assert ADMIN not in users_by_email(engine, directory_id)
    mark = published(engine, directory_id)[-1].seq

    workspace.suspend_user(suspended.id)
    workspace.move_user(moved.id, "/Contractors")
    workspace.delete_user(deleted.id)
    report = sync(engine, google, directory_id)

    assert report.error is None
    assert (report.counts.users_updated, report.counts.users_deactivated) == (0, 2)
    assert report.counts.users_deleted == 1
    events = [e for e in published(engine, directory_id) if e.seq > mark]
    by_user = {(e.type, e.data["user"]["username"]): e for e in events if "user" in e.data}
    assert by_user[("user.deactivated", suspended.primary_email)].data["reason"] == "deactivated"
    assert by_user[("user.deactivated", moved.primary_email)].data["reason"] == "unassigned"
    assert ("user.deleted", deleted.primary_email) in by_user
    user_events = [e for e in events if e.type.startswith("user.")]
    assert len(user_events) == 3

    # Exactly once: the next sync finds nothing more to do.
    mark = published(engine, directory_id)[-1].seq
    assert sync(engine, google, directory_id).error is None
    assert kinds(engine, directory_id, mark) == Counter()


def test_new_groups_and_removed_members_follow_google(engine: Engine, google: FakeGoogle) -> None:
    workspace = google.workspace
    workspace.populate(30, groups=1, members_per_group=10)
    directory_id = connected(engine, google)
    sync(engine, google, directory_id)
    group = workspace.groups()[0][0]
    member = next(iter(workspace.members(group.id)))
    mark = published(engine, directory_id)[-1].seq

    workspace.remove_member(group.id, member["id"])
    renamed = workspace.add_group("renamed", "A new group")
    report = sync(engine, google, directory_id)

    assert report.error is None
    assert kinds(engine, directory_id, mark) == {"group.user_removed": 1, "group.created": 1}
    names = {s.doc["displayName"] for s in every_resource(engine, directory_id, GROUPS)}
    assert renamed["name"] in names


def test_quota_answers_slow_the_sync_down_without_failing_it(
    engine: Engine, google: FakeGoogle
) -> None:
    google.workspace.populate(20)
    directory_id = connected(engine, google)
    google.workspace.fail_requests(2, status=403, reason="userRateLimitExceeded")
    google.workspace.fail_requests(1, status=429, reason="rateLimitExceeded")
    google.workspace.fail_requests(1, status=503, reason="backendError")

    report = sync(engine, google, directory_id)

    assert report.error is None
    assert report.counts.retries == 4
    assert report.counts.users_created == 21
    with reading(engine) as conn:
        entries = provisioning_logs.search(conn, LogSearch(directory_id, limit=100))
    statuses = Counter(entry.status for entry in entries)
    assert statuses[403] == 2 and statuses[429] == 1 and statuses[503] == 1
    sync_entry = next(entry for entry in entries if entry.method == "SYNC")
    assert sync_entry.status == 200
    assert {entry.request_id for entry in entries} == {sync_entry.request_id}


def test_a_sync_google_stops_halfway_writes_nothing(engine: Engine, google: FakeGoogle) -> None:
    google.workspace.populate(20)
    directory_id = connected(engine, google)
    assert sync(engine, google, directory_id).error is None
    google.workspace.delete_user(google.workspace.users()[5].id)
    google.workspace.fail_requests(50, status=503, reason="backendError")

    report = sync(engine, google, directory_id)

    assert report.status == 503
    assert "backendError" in report.error and "the next sync tries again" in report.error
    assert len(users_by_email(engine, directory_id)) == 21


def test_missing_delegation_is_explained(engine: Engine, google: FakeGoogle) -> None:
    directory_id = connected(engine, google, delegate=False)

    report = sync(engine, google, directory_id)

    assert report.status == 401
    connection = google_directories.connection_of(engine, directory_id)
    assert "domain-wide delegation" in report.error
    assert connection.client_id in report.error and SCOPES[0] in report.error
    with pytest.raises(google_directories.GoogleRefused, match="domain-wide delegation"):
        google_directories.check_directory(engine, settings_for(google), directory_id)


def _emptied(engine: Engine, google: FakeGoogle) -> str:
    """A directory of ten people in /Sales, synced, whose scope Google then lists empty."""
    google.workspace.populate(10, org_units=["/Sales"])
    directory_id = connected(engine, google, SyncScope(ScopeKind.org_units, ("/Sales",)))
    assert sync(engine, google, directory_id).error is None
    _move_everyone(google, "/Sales", "/Gone")
    return directory_id


def _allowed_after_a_refusal(engine: Engine, google: FakeGoogle) -> str:
    """An emptied directory whose sync was refused, then allowed to empty it."""
    directory_id = _emptied(engine, google)
    sync(engine, google, directory_id)
    google_directories.allow_empty(engine, directory_id)
    return directory_id


def _move_everyone(google: FakeGoogle, from_unit: str, to_unit: str) -> None:
    for user in google.workspace.users():
        if user.org_unit_path == from_unit:
            google.workspace.move_user(user.id, to_unit)


def _refused_and_kept(engine: Engine, google: FakeGoogle, directory_id: str) -> None:
    """A sync of the emptied scope is refused, and everyone stays active."""
    report = sync(engine, google, directory_id)
    assert report.status == 409 and "nothing was deprovisioned" in report.error
    assert all(s.doc["active"] for s in users_by_email(engine, directory_id).values())


def test_an_empty_answer_never_deprovisions_everyone(engine: Engine, google: FakeGoogle) -> None:
    _refused_and_kept(engine, google, _emptied(engine, google))


def test_a_pulled_directorys_health_counts_its_syncs_not_the_calls_google_throttled(
    engine: Engine, google: FakeGoogle
) -> None:
    google.workspace.populate(5)
    directory_id = connected(engine, google)
    for _ in range(2):
        google.workspace.fail_requests(2, status=403, reason="userRateLimitExceeded")
        google.workspace.fail_requests(1, status=429, reason="rateLimitExceeded")
        assert sync(engine, google, directory_id).error is None
    with reading(engine) as conn:
        entries = provisioning_logs.search(conn, LogSearch(directory_id, limit=100))
    assert sum(entry.status >= 400 for entry in entries) == 6, "the calls Google refused"

    health = portal_dashboard.directory_overview(engine, directory_id).health

    assert (health.requests, health.failed) == (2, 0)
    assert health.health is portal_dashboard.HEALTHY
    # A sync that fails is one failure, whatever number of calls it made.
    client_id = google_directories.connection_of(engine, directory_id).client_id
    google.workspace.revoke_delegation(client_id)
    assert sync(engine, google, directory_id).status == 401
    failing = portal_dashboard.directory_overview(engine, directory_id).health
    assert (failing.requests, failing.failed) == (3, 1)
    assert failing.health is portal_dashboard.ERRORS


def test_an_administrator_allows_the_next_sync_to_empty_the_directory(
    engine: Engine, google: FakeGoogle
) -> None:
    directory_id = _emptied(engine, google)
    refused = sync(engine, google, directory_id)
    assert refused.status == 409 and "allow the next sync to deprovision them" in refused.error
    before = google_directories.connection_of(engine, directory_id)
    assert before.empty_refused_at is not None and before.empty_allowed_at is None
    mark = published(engine, directory_id)[-1].seq

    allowed = google_directories.allow_empty(engine, directory_id)

    assert allowed.empty_allowed_at is not None and allowed.next_sync_at <= utcnow()
    report = sync(engine, google, directory_id)
    assert report.status == 200 and report.error is None
    assert report.counts.users_deactivated == 10
    stored = users_by_email(engine, directory_id)
    assert len(stored) == 10 and not any(s.doc["active"] for s in stored.values())
    # The deprovisionings still pass the safety valve (ten of ten trips its defaults).
    assert publishing.held_summary(engine, directory_id).delivery == "held"
    assert kinds(engine, directory_id, mark)["directory.deprovisioning_held"] == 1
    after = google_directories.connection_of(engine, directory_id)
    assert after.empty_refused_at is None and after.empty_allowed_at is None


def test_an_allowance_holds_for_one_completed_sync_whatever_it_finds(
    engine: Engine, google: FakeGoogle
) -> None:
    directory_id = _allowed_after_a_refusal(engine, google)
    # The scope was wrong after all: the people are back where the sync reads.
    _move_everyone(google, "/Gone", "/Sales")

    assert sync(engine, google, directory_id).error is None

    used = google_directories.connection_of(engine, directory_id)
    assert used.empty_refused_at is None and used.empty_allowed_at is None
    _move_everyone(google, "/Sales", "/Gone")
    _refused_and_kept(engine, google, directory_id)


def test_a_sync_that_fails_before_writing_leaves_the_allowance(
    engine: Engine, google: FakeGoogle
) -> None:
    directory_id = _allowed_after_a_refusal(engine, google)
    client_id = google_directories.connection_of(engine, directory_id).client_id
    google.workspace.revoke_delegation(client_id)

    assert sync(engine, google, directory_id).status == 401

    kept = google_directories.connection_of(engine, directory_id)
    assert kept.empty_allowed_at is not None and kept.empty_refused_at is not None


def test_an_allowance_given_while_a_sync_runs_is_left_for_the_next(
    engine: Engine, google: FakeGoogle
) -> None:
    """What the sync began with is what it uses up (``google_connections.completed``)."""
    directory_id = connected(engine, google)
    began_with = utcnow()
    with writing(engine) as conn:
        google_connections.allow_empty(conn, directory_id, began_with)
    given_meanwhile = began_with + timedelta(seconds=1)
    with writing(engine) as conn:
        google_connections.allow_empty(conn, directory_id, given_meanwhile)
        google_connections.completed(conn, directory_id, began_with)
    with reading(engine) as conn:
        found = google_connections.get(conn, directory_id)
    assert found is not None and found.empty_allowed_at == given_meanwhile
    with writing(engine) as conn:
        google_connections.completed(conn, directory_id, given_meanwhile)
    with reading(engine) as conn:
        found = google_connections.get(conn, directory_id)
    assert found is not None and found.empty_allowed_at is None


def test_a_pushed_directory_has_nothing_to_allow(engine: Engine) -> None:
    organization = tenants.create_organization(engine, f"org {secrets.token_hex(3)}")
    pushed = tenants.create_directory(engine, organization.id, "SCIM")
    with pytest.raises(google_directories.NotPulled):
        google_directories.allow_empty(engine, pushed.directory.id)


def test_a_pulled_directory_takes_no_scim_token(engine: Engine, google: FakeGoogle) -> None:
    directory_id = connected(engine, google)
    with pytest.raises(PulledDirectory, match="takes no SCIM token"):
        tenants.create_token(engine, directory_id, "no")


def test_scopes_are_checked_before_they_are_stored() -> None:
    with pytest.raises(ValueError, match="starting with '/'"):
        SyncScope(ScopeKind.org_units, ("Sales",))
    with pytest.raises(ValueError, match="e-mail address"):
        SyncScope(ScopeKind.groups, ("sales",))
    with pytest.raises(ValueError, match="at least one"):
        SyncScope(ScopeKind.groups, ())


def test_the_scope_of_groups_syncs_their_members_only(engine: Engine, google: FakeGoogle) -> None:
    workspace: Workspace = google.workspace
    workspace.populate(40, groups=2, members_per_group=10)
    chosen = workspace.groups()[0][0]
    directory_id = connected(engine, google, SyncScope(ScopeKind.groups, (chosen.email,)))

    report = sync(engine, google, directory_id)

    assert report.error is None
    assert (report.counts.users_created, report.counts.groups_created) == (10, 1)


def test_what_google_shows_unchanged_is_confirmed_for_the_drift_report(
    engine: Engine, google: FakeGoogle
) -> None:
    google.workspace.populate(5, groups=1, members_per_group=2)
    directory_id = connected(engine, google)
    sync(engine, google, directory_id)
    long_ago = utcnow() - timedelta(days=2)
    with writing(engine) as conn:
        for table in (users_table, groups_table):
            conn.execute(
                update(table)
                .where(table.c.directory_id == directory_id)
                .values(confirmed_at=long_ago)
            )
    since = utcnow() - timedelta(days=1)
    assert len(confirmations.drift_report(engine, directory_id, since)) == 7

    assert sync(engine, google, directory_id).error is None

    assert confirmations.drift_report(engine, directory_id, since) == []


def test_workers_lease_due_directories_one_sync_at_a_time(
    sqlite_engine: Engine, google: FakeGoogle
) -> None:
    engine = sqlite_engine
    first, second = connected(engine, google), connected(engine, google)
    settings = settings_for(google)
    now = utcnow()
    with writing(engine) as conn:
        taken = google_connections.claim_due(conn, "worker-a", now, now + timedelta(minutes=5))
    # Leased, a directory is not taken again; the other one is next.
    with writing(engine) as conn:
        other = google_connections.claim_due(conn, "worker-b", now, now + timedelta(minutes=5))
        assert google_connections.claim_due(conn, "worker-c", now, now) is None
    assert {taken, other} == {first, second}
    # A dead worker's lease runs out, and another worker takes the directory over.
    later = now + timedelta(minutes=6)
    with writing(engine) as conn:
        assert google_connections.claim_due(conn, "worker-c", later, later) in {first, second}

    with writing(engine) as conn:
        google_connections.request_sync(conn, first, utcnow() - timedelta(minutes=10))
        google_connections.request_sync(conn, second, utcnow() - timedelta(minutes=10))
        for directory_id in (first, second):
            conn.execute(
                update(google_connections_table)
                .where(google_connections_table.c.directory_id == directory_id)
                .values(lease_owner=None, lease_until=None)
            )
    assert google_runs.run_due(engine, settings, "worker-d")
    assert google_runs.run_due(engine, settings, "worker-d")
    assert not google_runs.run_due(engine, settings, "worker-d"), "both synced, none due"
    for directory_id in (first, second):
        connection = google_directories.connection_of(engine, directory_id)
        assert connection.last_error is None and connection.last_counts is not None
        assert connection.next_sync_at > utcnow() + timedelta(minutes=4)


def test_a_worker_with_nothing_due_writes_nothing(
    sqlite_engine: Engine, google: FakeGoogle
) -> None:
    """Each worker asks every second whether a sync is due; on SQLite a writing transaction
    takes the one writer's turn from the SCIM requests, so it is read first and only a due
    directory is leased."""
    engine = sqlite_engine
    directory_id = connected(engine, google)
    assert google_runs.run_due(engine, settings_for(google), "worker-a")  # the first sync
    began: list[bool] = []

    def _begun(connection: Any) -> None:
        began.append(bool(connection.get_execution_options().get(WRITE_OPTION, False)))

    event.listen(engine, "begin", _begun)
    try:
        assert not google_runs.run_due(engine, settings_for(google), "worker-a")
        assert began and not any(began), "asked, and nothing written"
        with writing(engine) as conn:
            google_connections.request_sync(conn, directory_id, utcnow() - timedelta(minutes=1))
        began.clear()
        assert google_runs.run_due(engine, settings_for(google), "worker-a")
        assert any(began), "a due directory is leased"
    finally:
        event.remove(engine, "begin", _begun)


def test_syncs_keep_a_channel_per_user_change_open_and_renew_those_ending(
    engine: Engine, google: FakeGoogle
) -> None:
    directory_id = connected(engine, google)
    settings = replace(settings_for(google), public_url="http://127.0.0.1:9")
    google_directories.sync_here(engine, settings, directory_id)

    with reading(engine) as conn:
        opened = google_connections.channels(conn, directory_id)
    assert sorted(c.event for c in opened) == sorted(google_watch.WATCHED)
    live = {c.id: c for c in google.workspace.channels if not c.stopped}
    assert set(live) >= {c.id for c in opened}
    assert all(live[c.id].address == "http://127.0.0.1:9/google/notifications" for c in opened)

    # A notification on a known channel, with its token, makes the sync due now.
    channel = live[opened[0].id]
    assert channel.token is not None
    later = google_directories.connection_of(engine, directory_id).next_sync_at
    assert google_watch.notified(engine, channel.id, channel.token, "sync")
    assert google_directories.connection_of(engine, directory_id).next_sync_at == later
    assert not google_watch.notified(engine, channel.id, "guessed", "update")
    assert google_directories.connection_of(engine, directory_id).next_sync_at == later
    assert google_watch.notified(engine, channel.id, channel.token, "update")
    assert google_directories.connection_of(engine, directory_id).next_sync_at < later

    # Channels ending within the hour are replaced, and Google is told to close them.
    with writing(engine) as conn:
        conn.execute(
            update(google_channels_table)
            .where(google_channels_table.c.directory_id == directory_id)
            .values(expires_at=utcnow() + timedelta(minutes=30))
        )
    google_directories.sync_here(engine, settings, directory_id)
    with reading(engine) as conn:
        renewed = google_connections.channels(conn, directory_id)
    assert len(renewed) == len(google_watch.WATCHED)
    assert not {c.id for c in renewed} & {c.id for c in opened}
    stopped = {c.id for c in google.workspace.channels if c.stopped}
    assert stopped == {c.id for c in opened}


def test_the_google_extension_of_a_pulled_directory_stays_registered(
    engine: Engine, google: FakeGoogle
) -> None:
    directory_id = connected(engine, google)
    with pytest.raises(Conflict, match="stays registered"):
        extension_schemas.unregister(engine, directory_id, GOOGLE_SCHEMA)
    assert [s.id for s in extension_schemas.registered(engine, directory_id)] == [GOOGLE_SCHEMA]


def test_a_mass_deprovisioning_pulled_from_google_trips_the_safety_valve(
    engine: Engine, google: FakeGoogle
) -> None:
    google.workspace.populate(40)
    directory_id = connected(engine, google)
    assert sync(engine, google, directory_id).error is None
    safety.configure(engine, directory_id, max_count=3, max_percent=0)
    mark = published(engine, directory_id)[-1].seq
    # Eight who manage nobody, so that nobody else changes.
    for user in [user for user in google.workspace.users() if user.manager][:8]:
        google.workspace.delete_user(user.id)

    report = sync(engine, google, directory_id)

    assert report.error is None and report.counts.users_deleted == 8
    # Past three, the deletions are held back until an administrator reviews them.
    held = publishing.held_summary(engine, directory_id)
    assert (held.delivery, held.held_events) == ("held", 5)
    assert kinds(engine, directory_id, mark) == {
        "user.deleted": 3,
        "directory.deprovisioning_held": 1,
    }
