"""The ceiling: a bare ASGI app that answers every request with a small JSON body.

Served by the same uvicorn as scimgate (one process, no access log), it shows
what the HTTP stack alone costs on this machine, so the table can say how much
of that scimgate keeps. It answers as a SCIM server would in status only: 201
to ``POST``, 204 to ``PATCH`` and ``DELETE``, 200 to anything else.

    python -m uvicorn --app-dir bench ceiling:app --no-access-log
"""

import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from servers import Server, as_server, free_port, wait_until_answering

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

BODY = b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0}'
STATUS_BY_METHOD = {"POST": 201, "PATCH": 204, "DELETE": 204}
HEADERS = [(b"content-type", b"application/scim+json"), (b"content-length", b"%d" % len(BODY))]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await _drain(receive)
    status = STATUS_BY_METHOD.get(scope["method"], 200)
    if status == 204:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": status, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


async def _drain(receive: Receive) -> None:
    """Read the request body, as any real handler would."""
    while True:
        message = await receive()
        if not message.get("more_body"):
            return


@contextmanager
def ceiling_server() -> Iterator[Server]:
    """The ceiling app under uvicorn on a free loopback port."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).parent)]
    command += ["ceiling:app", "--port", str(port), "--no-access-log", "--log-level", "warning"]
    process = subprocess.Popen(
        as_server(command), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    root = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(root, process)
        yield Server(
            name="ceiling",
            base_url=root,
            pid=process.pid,
            headers={"Content-Type": "application/scim+json"},
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
