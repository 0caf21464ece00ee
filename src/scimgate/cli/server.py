"""``scimgate serve|migrate``: run the service's server processes, migrate its database."""

import socket
import sys
import tempfile
from typing import Annotated, Any

import typer
import uvicorn
from fastapi import FastAPI

from scimgate.api.app import create_app
from scimgate.cli.coalesced_writes import CoalescingHttpProtocol
from scimgate.cli.common import DatabaseOption, console, engine_for, scim_url, settings_for
from scimgate.config import pass_to_server_processes
from scimgate.logging import configure as configure_logging
from scimgate.service.administration.bootstrap import prepare_database
from scimgate.service.event_stream.worker import start_in_background
from scimgate.store.engine import close_connections, is_sqlite, open_engine
from scimgate.store.migrate import upgrade

APP_FACTORY = "scimgate.cli.server:server_process_app"
"""What each of several server processes imports: the app built from the environment."""


def server_process_app() -> FastAPI:
    """The application of one server process of ``serve --workers N``.

    Each process is started afresh, so it sets up logging as ``serve`` did and
    reads its settings from the environment, where ``serve`` put its options.
    """
    configure_logging(json=not sys.stderr.isatty())
    return create_app()


SHUTDOWN_GRACE_SECONDS = 30
"""How long a stopping server waits for its requests in flight before it closes them."""


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="Server processes sharing the port (more than 1 needs PostgreSQL)"
        ),
    ] = 1,
    with_worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Deliver webhooks in this process too (off when 'scimgate worker' runs apart)",
        ),
    ] = True,
    database_url: DatabaseOption = None,
) -> None:
    """Run the SCIM service (migrating the database first; a new database gets a demo directory)."""
    settings = settings_for(database_url)
    if workers > 1 and is_sqlite(settings.database_url):
        # SQLite lets one writer in at a time: more processes only queue for its lock.
        raise typer.BadParameter(
            "several server processes need PostgreSQL; SQLite serves one process on one machine",
            param_hint="--workers",
        )
    # Before anything is created: the demo directory's token and the first admin key are
    # shown once, and a server that then cannot listen would have spent them for nothing.
    _check_free(host, port)
    configure_logging(json=not sys.stderr.isatty())
    engine = open_engine(settings.database_url, None, settings.encryption_keys)
    bootstrap = prepare_database(engine)
    close_connections(engine)  # the server (and the worker) open their own
    root = settings.public_url or f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"
    if bootstrap.created is not None:
        created = bootstrap.created
        console.print("[bold]First start: created a demo directory.[/bold]")
        console.print(f"SCIM base URL: {scim_url(root, created.directory.id)}")
        console.print(f"Bearer token:  {created.token.secret}")
        console.print("The token is shown once; create more with 'scimgate tokens create'.")
    console.print(f"Admin portal:  {root}/admin/")
    if bootstrap.admin_key is not None:
        console.print(f"Admin key:     {bootstrap.admin_key.secret}")
        console.print("Sign in with the key; it is shown once ('scimgate keys create' makes more).")
    else:
        console.print(
            "Sign in with an admin key; 'scimgate keys create NAME --scope write' makes a new one."
        )
    background = start_in_background(settings) if with_worker else None
    # scimgate writes its own access line (no query strings, no secrets in paths).
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "access_log": False,
        # SIGTERM: stop accepting, let requests in flight finish (and commit), then exit.
        "timeout_graceful_shutdown": SHUTDOWN_GRACE_SECONDS,
        "http": CoalescingHttpProtocol,
    }
    try:
        if workers == 1:
            # uvicorn ends the process by re-raising SIGTERM once it has shut down, so the
            # worker stops in the application's shutdown, with its deliveries finished.
            on_shutdown = background.stop if background is not None else None
            uvicorn.run(create_app(settings, on_shutdown=on_shutdown), **options)
        else:
            # The server processes start afresh and read their settings from the environment,
            # and count their traffic in files that any one of them sums up when scraped.
            with tempfile.TemporaryDirectory(prefix="scimgate-metrics-") as counters:
                pass_to_server_processes(settings, counters)
                uvicorn.run(APP_FACTORY, factory=True, workers=workers, **options)
    finally:
        if background is not None:
            background.stop()


def _check_free(host: str, port: int) -> None:
    """Refuse to start (exit 2) when the address is taken, before anything is created."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: a port that only has connections closing on it is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise typer.BadParameter(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); nothing was created. "
                "Stop what uses it, or choose another port with --port",
                param_hint="--port",
            ) from None


def migrate(database_url: DatabaseOption = None) -> None:
    """Bring the database schema up to date."""
    upgrade(engine_for(database_url))
    console.print("Database is up to date.")
