"""Pulling a Google Workspace directory: the first sync, a sync with nothing to do, leavers.

Serves the stand-in for Google Workspace (``scimgate.simulator.google_workspace``) on
loopback with a generated account (by default 10,000 people, 200 groups of 50),
connects a new directory of a new database to it (SQLite, and PostgreSQL when one
answers at ``127.0.0.1:5432``), and times, in this process, the sync the workers
run: the first one, one with nothing changed, and one after 1% of the people
left (suspended, moved out of the scope, deleted, a third each). The stand-in
answers in the same process, so its own work is in the times too. Prints one
table, and writes ``bench/results/google_pull.{json,md}``.

    python bench/google_pull.py [--users 10000] [--backend sqlite|postgresql|both]
"""

import argparse
import json
import secrets
import time
from pathlib import Path
from typing import Any

from seed import empty_database, postgresql_reachable

from scimgate.config import GoogleSettings
from scimgate.scim.google_workspace import ScopeKind, SyncScope
from scimgate.service.administration import google_directories, tenants
from scimgate.service.administration.google_directories import ConnectionRequest
from scimgate.service.directory_sync.google_api import SCOPES
from scimgate.simulator.google_workspace import Workspace, serving_workspace
from scimgate.store.engine import open_engine
from scimgate.store.migrate import upgrade

RESULTS = Path(__file__).with_name("results")
ADMIN = "admin@example.com"
SCOPE = "/Staff"


def measure(backend: str, users: int) -> list[dict[str, Any]]:
    workspace = Workspace()
    workspace.add_user(ADMIN, "Ada", "Admin", is_admin=True)
    workspace.populate(users, users // 50, members_per_group=50, org_units=[SCOPE])
    rows = []
    with empty_database(backend) as url, serving_workspace(workspace) as google:
        engine = open_engine(url)
        upgrade(engine)
        key = workspace.service_account_key()
        workspace.grant_delegation(key["client_id"], SCOPES)
        settings = GoogleSettings(api_url=google.url, token_url=google.token_uri)
        organization = tenants.create_organization(engine, f"bench {secrets.token_hex(3)}")
        directory, _ = google_directories.create_google_directory(
            engine,
            settings,
            organization.id,
            "bench",
            ConnectionRequest(
                admin_email=ADMIN, key=key, scope=SyncScope(ScopeKind.org_units, (SCOPE,))
            ),
        )

        def timed(step: str) -> None:
            started = time.perf_counter()
            report = google_directories.sync_here(engine, settings, directory.id)
            seconds = time.perf_counter() - started
            assert report.error is None, report.error
            counts = {f"sync_{name}": count for name, count in report.counts.as_dict().items()}
            rows.append(
                {"backend": backend, "people": users, "step": step, "seconds": round(seconds, 2)}
                | counts
            )

        timed("first sync")
        timed("nothing changed")
        people = [u for u in workspace.users() if u.primary_email != ADMIN]
        workspace.offboard(people[: max(3, users // 100)])
        timed("1% left")
        engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends and not postgresql_reachable():
        backends.remove("postgresql")
    rows = [row for backend in backends for row in measure(backend, args.users)]
    lines = [
        "| backend | people | sync | time | API calls | created | updated | deactivated "
        "| deleted |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['backend']} | {row['people']:,} | {row['step']} | {row['seconds']:.1f} s "
            f"| {row['sync_api_calls']} | {row['sync_users_created']} "
            f"| {row['sync_users_updated']} | {row['sync_users_deactivated']} "
            f"| {row['sync_users_deleted']} |"
        )
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "google_pull.json").write_text(json.dumps(rows, indent=2) + "\n")
    (RESULTS / "google_pull.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
