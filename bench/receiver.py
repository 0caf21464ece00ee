"""A fast webhook receiver for the benchmark, run as its own process.

It verifies each delivery's Standard Webhooks signature with the endpoint's
secret, answers 204 (400 to a delivery whose signature does not verify), and
counts deliveries by ``webhook-id``, so that duplicates show. ``GET /stats``
answers the counts as JSON.

    BENCH_WEBHOOK_SECRET=whsec_... python bench/receiver.py --port 8100
"""

import argparse
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET_VARIABLE = "BENCH_WEBHOOK_SECRET"

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass
class Tally:
    """What arrived so far."""

    deliveries: int = 0
    invalid: int = 0
    """Deliveries whose signature did not verify (answered 400)."""

    ids: set[str] = field(default_factory=set)
    first_at: float | None = None
    """``time.monotonic()`` of the first and latest valid delivery (one clock per machine)."""

    last_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "deliveries": self.deliveries,
            "unique": len(self.ids),
            "duplicates": self.deliveries - len(self.ids),
            "invalid": self.invalid,
            "first_at": self.first_at,
            "last_at": self.last_at,
        }


class Receiver:
    """The ASGI application: ``POST`` anything is a delivery, ``GET /stats`` the tally."""

    def __init__(self, secret: str) -> None:
        self.webhook = Webhook(secret)
        self.tally = Tally()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "GET":
            await _answer(send, 200, json.dumps(self.tally.as_json()).encode())
            return
        body = await _body(receive)
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        await _answer(send, 204 if self._counted(body, headers) else 400)

    def _counted(self, body: bytes, headers: dict[str, str]) -> bool:
        try:
            self.webhook.verify(body, headers, json_parse=False)
        except WebhookVerificationError:
            self.tally.invalid += 1
            return False
        now = time.monotonic()
        self.tally.deliveries += 1
        self.tally.ids.add(headers["webhook-id"])
        self.tally.first_at = self.tally.first_at or now
        self.tally.last_at = now
        return True


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes = b"") -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if body:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description="A webhook receiver counting webhook-ids.")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    receiver = Receiver(os.environ[SECRET_VARIABLE])
    uvicorn.run(
        receiver, host="127.0.0.1", port=arguments.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
