"""The delivery worker: retries, per-directory order behind a failing delivery, a worker killed
mid-delivery, two workers on one database, endpoints disabled by failure, and replays.

The workers in this process look for due deliveries every ``IDLE`` seconds, so that retries
scheduled a fraction of a second apart go out when due; worker processes are forked from
one that imported scimgate once (``forked_workers``), so that they start at once.
"""

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from conftest import LiveServer
from scim_payloads import patch, user
from webhook_support import (
    Endpoints,
    Received,
    Receiver,
    Reply,
    forked_worker,
    forked_workers,
    organization_with,
    trickling,
    wait_until,
    worker_thread,
)

USER_EVENTS = ["user.created", "user.deactivated"]

IDLE = 0.1
"""Seconds an in-process worker with nothing due waits before it looks again."""


def _events(admin: httpx.Client, directory_id: str, types: list[str]) -> list[dict[str, Any]]:
    answer = admin.get("/events", params={"directory_id": directory_id, "types": ",".join(types)})
    found: list[dict[str, Any]] = answer.json()["data"]
    return found


def _ids(requests: list[Received]) -> list[str]:
    return [each.webhook_id for each in requests]


def _first_seen(requests: list[Received]) -> list[str]:
    """Webhook ids in the order they first arrived: what a receiver that deduplicates sees."""
    return list(dict.fromkeys(_ids(requests)))


def _deactivate(client: httpx.Client, user_id: str) -> None:
    answer = client.patch(
        f"/Users/{user_id}", json=patch({"op": "replace", "path": "active", "value": False})
    )
    assert answer.status_code == 200, answer.text


def test_a_failing_delivery_is_retried_with_the_same_id_until_it_succeeds(
    live_server: LiveServer,
    database_url: str,
    admin: httpx.Client,
    endpoints: Endpoints,
    receiver: Receiver,
) -> None:
    org = organization_with(live_server, 1)
    endpoint = endpoints.register(
        receiver.url(), organization_id=org.id, event_types=["user.created"]
    )
    answers = iter([Reply(500, body="down"), Reply(500, body="still down")])
    receiver.plan = lambda _: next(answers, Reply(200, body="thanks"))
    with worker_thread(database_url, schedule=(0.2, 0.2, 0.2, 0.2), idle=IDLE):
        org.directories[0].http.post("/Users", json=user("ann"))
        wait_until(lambda: endpoints.all_delivered(endpoint["id"], 1), "the delivery succeeds")

    [event] = _events(admin, org.directories[0].directory_id, ["user.created"])
    assert _ids(receiver.received()) == [event["id"]] * 3
    assert len({each.headers["webhook-signature"] for each in receiver.received()}) >= 1
    [delivery] = endpoints.deliveries(endpoint["id"])
    assert delivery["event_id"] == event["id"] and delivery["attempts"] == 2
    assert delivery["delivered_at"] is not None
    attempts = admin.get(f"/webhooks/deliveries/{delivery['id']}/attempts").json()["data"]
    assert [each["status_code"] for each in attempts] == [500, 500, 200]
    assert [each["response_excerpt"] for each in attempts] == ["down", "still down", "thanks"]
    assert all(isinstance(each["latency_ms"], int) and each["latency_ms"] >= 0 for each in attempts)
    assert all(each["error"] is None for each in attempts)


def test_a_failing_directory_holds_back_only_its_own_later_events(
    live_server: LiveServer,
    database_url: str,
    admin: httpx.Client,
    endpoints: Endpoints,
    receiver: Receiver,
) -> None:
    org = organization_with(live_server, 2)
    d1, d2 = org.directories
    a = endpoints.register(receiver.url("/a"), organization_id=org.id, event_types=USER_EVENTS)
    b = endpoints.register(receiver.url("/b"), organization_id=org.id, event_types=USER_EVENTS)
    recovered = threading.Event()

    def plan(request: Received) -> Reply:
        failing = request.path == "/a" and request.event["directory_id"] == d1.directory_id
        return Reply(503) if failing and not recovered.is_set() else Reply(200)

    receiver.plan = plan
    # Retried every 0.1 s for a hundred seconds at least: never disabled while the test runs.
    with worker_thread(database_url, schedule=(0.1,) * 1000, idle=IDLE):
        ann = d1.http.post("/Users", json=user("ann")).json()["id"]
        _deactivate(d1.http, ann)
        bob = d2.http.post("/Users", json=user("bob")).json()["id"]
        d2.http.post("/Users", json=user("cy"))
        _deactivate(d2.http, bob)
        d1_events = _events(admin, d1.directory_id, USER_EVENTS)
        d2_events = _events(admin, d2.directory_id, USER_EVENTS)
        assert [each["type"] for each in d1_events] == USER_EVENTS

        def at_a(directory_id: str) -> list[Received]:
            found = receiver.received("/a")
            return [each for each in found if each.event["directory_id"] == directory_id]

        wait_until(lambda: endpoints.all_delivered(b["id"], 5), "B receives everything")
        wait_until(lambda: len(_first_seen(at_a(d2.directory_id))) == 3, "A receives D2")
        wait_until(lambda: len(at_a(d1.directory_id)) >= 4, "A retries D1's head")

        # A got D2's events in sequence order, and of D1 only its failing head, again and again.
        assert _ids(at_a(d2.directory_id)) == [each["id"] for each in d2_events]
        assert set(_ids(at_a(d1.directory_id))) == {d1_events[0]["id"]}
        # B got D1's events in order.
        from_d1_at_b = [
            each
            for each in receiver.received("/b")
            if each.event["directory_id"] == d1.directory_id
        ]
        assert _ids(from_d1_at_b) == [each["id"] for each in d1_events]

        recovered.set()
        wait_until(lambda: endpoints.all_delivered(a["id"], 5), "A catches up with D1")
    arrived = at_a(d1.directory_id)
    assert _first_seen(arrived) == [each["id"] for each in d1_events]
    deactivated_at = _ids(arrived).index(d1_events[1]["id"])
    assert set(_ids(arrived[:deactivated_at])) == {d1_events[0]["id"]}
    sequences = [each.event["sequence"] for each in arrived[deactivated_at - 1 :]]
    assert sequences == sorted(sequences) and len(sequences) == 2


def test_a_worker_killed_mid_delivery_is_taken_over_by_another(
    live_server: LiveServer,
    database_url: str,
    admin: httpx.Client,
    endpoints: Endpoints,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    org = organization_with(live_server, 1)
    directory = org.directories[0]
    endpoint = endpoints.register(receiver.url(), organization_id=org.id, event_types=USER_EVENTS)
    first = threading.Event()

    def plan(_: Received) -> Reply:
        if first.is_set():
            return Reply(204)
        first.set()
        return Reply(200, delay=6)  # held open while the worker is killed

    receiver.plan = plan
    ann = directory.http.post("/Users", json=user("ann")).json()["id"]
    directory.http.post("/Users", json=user("bob"))
    _deactivate(directory.http, ann)
    expected = [each["id"] for each in _events(admin, directory.directory_id, USER_EVENTS)]
    assert len(expected) == 3
    settings = {
        "SCIMGATE_LEASE_SECONDS": "2",
        "SCIMGATE_WEBHOOK_TIMEOUT": "1",
        "SCIMGATE_WEBHOOK_RETRY_SCHEDULE": "0.2,0.2,0.2",
    }

    doomed = forked_worker(database_url, tmp_path / "doomed.log", **settings)
    try:
        wait_until(lambda: len(receiver.received()) == 1, "the first worker starts delivering")
        doomed.kill()
    finally:
        doomed.stop()
    assert _ids(receiver.received()) == [expected[0]]

    with forked_workers(database_url, tmp_path, **settings):
        wait_until(
            lambda: endpoints.all_delivered(endpoint["id"], 3), "the second worker takes over"
        )
    ids = _ids(receiver.received())
    assert ids[:2] == [expected[0], expected[0]]
    assert set(ids) == set(expected)
    assert _first_seen(receiver.received()) == expected
    assert Counter(ids)[expected[0]] == 2


def test_two_workers_deliver_each_event_once_and_each_directory_in_order(
    live_server: LiveServer,
    database_url: str,
    admin: httpx.Client,
    endpoints: Endpoints,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    org = organization_with(live_server, 3)
    endpoint = endpoints.register(receiver.url(), organization_id=org.id)
    # A little latency, so that both workers have deliveries in flight at once.
    receiver.plan = lambda _: Reply(200, delay=0.02)
    with forked_workers(database_url, tmp_path, count=2):
        for index in range(6):
            for directory in org.directories:
                directory.http.post("/Users", json=user(f"user{index}"))
        expected = {
            directory.directory_id: [
                each["id"] for each in _events(admin, directory.directory_id, [])
            ]
            for directory in org.directories
        }
        total = sum(len(ids) for ids in expected.values())
        assert total == 3 * 7  # directory.activated and six users each
        wait_until(lambda: endpoints.all_delivered(endpoint["id"], total), "all are delivered")

    received = receiver.received()
    # Each exactly once: never twice, so never twice at the same time either.
    assert sorted(_ids(received)) == sorted(id for ids in expected.values() for id in ids)
    for directory_id, ids in expected.items():
        arrived = [each for each in received if each.event["directory_id"] == directory_id]
        assert _ids(arrived) == ids


def test_sustained_failure_disables_the_endpoint_and_enabling_resumes_in_order(
    live_server: LiveServer,
    database_url: str,
    admin: httpx.Client,
    endpoints: Endpoints,
    receiver: Receiver,
) -> None:
    org = organization_with(live_server, 1)
    directory = org.directories[0]
    endpoint = endpoints.register(
        receiver.url(), organization_id=org.id, event_types=["user.created"]
    )
    hook = f"/webhooks/{endpoint['id']}"
    healthy = threading.Event()
    receiver.plan = lambda _: Reply(200) if healthy.is_set() else Reply(500)

    with worker_thread(database_url, schedule=(0.1, 0.1, 0.1), idle=IDLE):
        directory.http.post("/Users", json=user("ann"))
        directory.http.post("/Users", json=user("bob"))
        wait_until(lambda: not admin.get(hook).json()["enabled"], "the endpoint is disabled")
        found = admin.get(hook).json()
        assert found["disabled_reason"].startswith("failing since ")
        assert found["disabled_reason"].endswith(", 4 attempts")
        ann, bob = _events(admin, directory.directory_id, ["user.created"])
        assert _ids(receiver.received()) == [ann["id"]] * 4  # one try, three retries

        # While disabled, new events are queued but nothing is sent.
        directory.http.post("/Users", json=user("cy"))
        wait_until(
            lambda: len(endpoints.deliveries(endpoint["id"], status="pending")) == 3,
            "the new event is queued",
        )
        assert len(receiver.received()) == 4

        healthy.set()
        enabled = admin.post(f"{hook}/enable")
        assert enabled.status_code == 200 and enabled.json()["enabled"] is True
        assert enabled.json()["disabled_reason"] is None
        wait_until(lambda: endpoints.all_delivered(endpoint["id"], 3), "enabling resumes")
    expected = [each["id"] for each in _events(admin, directory.directory_id, ["user.created"])]
    assert _ids(receiver.received()) == [ann["id"]] * 5 + [bob["id"], expected[2]]


def test_replays_resend_events_in_order_with_their_ids(
    live_server: LiveServer,
    database_url: str,
    admin: httpx.Client,
    endpoints: Endpoints,
    receiver: Receiver,
) -> None:
    org = organization_with(live_server, 1)
    directory = org.directories[0]
    endpoint = endpoints.register(receiver.url(), organization_id=org.id, event_types=USER_EVENTS)
    hook = f"/webhooks/{endpoint['id']}"
    started = datetime.now(UTC) - timedelta(seconds=1)
    with worker_thread(database_url, idle=IDLE):
        ann = directory.http.post("/Users", json=user("ann")).json()["id"]
        directory.http.post("/Users", json=user("bob"))
        _deactivate(directory.http, ann)
        wait_until(lambda: endpoints.all_delivered(endpoint["id"], 3), "first deliveries")
        events = _events(admin, directory.directory_id, USER_EVENTS)
        ids = [each["id"] for each in events]
        assert _ids(receiver.received()) == ids

        # Replays queued while the endpoint is off wait for it; a second replay skips them.
        admin.post(f"{hook}/disable")
        by_time = admin.post(f"{hook}/replay", json={"since": started.isoformat()})
        assert by_time.json() == {"replayed": 3, "already_pending": 0}
        by_sequence = admin.post(
            f"{hook}/replay",
            json={"from_sequence": events[1]["sequence"], "to_sequence": events[2]["sequence"]},
        )
        assert by_sequence.json() == {"replayed": 0, "already_pending": 2}
        latest = endpoints.deliveries(endpoint["id"], status="delivered")[0]
        assert admin.post(f"/webhooks/deliveries/{latest['id']}/replay").status_code == 409
        admin.post(f"{hook}/enable")
        wait_until(lambda: endpoints.all_delivered(endpoint["id"], 6), "the range is resent")
        assert _ids(receiver.received()) == ids * 2

        # One delivery replayed: the same event again, with the same webhook-id.
        again = admin.post(f"/webhooks/deliveries/{latest['id']}/replay")
        assert again.status_code == 201, again.text
        assert again.json()["event_id"] == latest["event_id"]
        assert again.json()["status"] == "pending"
        wait_until(lambda: endpoints.all_delivered(endpoint["id"], 7), "the replay is resent")
    assert _ids(receiver.received()) == [*ids, *ids, latest["event_id"]]
    empty = admin.post(f"{hook}/replay", json={"since": datetime.now(UTC).isoformat()})
    assert empty.json() == {"replayed": 0, "already_pending": 0}


def test_a_revocation_hook_answering_2xx_confirms_the_offboarding(
    live_server: LiveServer,
    database_url: str,
    admin: httpx.Client,
    endpoints: Endpoints,
    receiver: Receiver,
) -> None:
    told, hooked = organization_with(live_server, 1), organization_with(live_server, 1)
    only = ["user.deactivated"]
    plain = endpoints.register(receiver.url("/told"), organization_id=told.id, event_types=only)
    hook = endpoints.register(
        receiver.url("/hook"), organization_id=hooked.id, event_types=only, revocation_hook=True
    )
    started = datetime.now(UTC) - timedelta(seconds=1)
    with worker_thread(database_url, idle=IDLE):
        for org in (told, hooked):
            client = org.directories[0].http
            _deactivate(client, client.post("/Users", json=user("ann")).json()["id"])
        wait_until(lambda: endpoints.all_delivered(plain["id"], 1), "the app is told")
        wait_until(lambda: endpoints.all_delivered(hook["id"], 1), "the hook is told")

    def report(org_id: str) -> dict[str, Any]:
        answer = admin.get(
            "/offboarding/report", params={"organization_id": org_id, "since": started.isoformat()}
        )
        [row] = answer.json()["data"]
        found: dict[str, Any] = row
        return found

    assert report(told.id)["notified_via"] == "webhook"
    assert report(told.id)["confirmed_at"] is None
    assert report(hooked.id)["notified_via"] == "webhook"
    assert report(hooked.id)["confirmed_via"] == "revocation_hook"


def test_a_slow_endpoint_ties_up_one_sender_and_the_others_flow_on(
    live_server: LiveServer,
    database_url: str,
    endpoints: Endpoints,
    receiver: Receiver,
) -> None:
    """An endpoint that answers slowly, for many directories, never takes every sender."""
    org = organization_with(live_server, 4)
    slow = endpoints.register(receiver.url("/slow"), organization_id=org.id)
    fast = endpoints.register(receiver.url("/fast"), organization_id=org.id)
    # The slow endpoint answers after 4 s, or as soon as the test has seen the fast one served.
    seen = threading.Event()
    receiver.plan = lambda request: (
        Reply(200, delay=4.0, release=seen) if request.path == "/slow" else Reply(200)
    )
    for directory in org.directories:
        assert directory.http.post("/Users", json=user("ann")).status_code == 201
    expected = 2 * len(org.directories)  # directory.activated and user.created, each
    with worker_thread(database_url, idle=IDLE):
        try:
            wait_until(
                lambda: endpoints.all_delivered(fast["id"], expected),
                "the fast endpoint gets every event while the slow one is still answering",
                timeout=10.0,
            )
            # Four directories' heads were due at the slow endpoint: one at a time goes out.
            assert len(receiver.received("/slow")) <= 2
        finally:
            seen.set()
    for each in endpoints.deliveries(slow["id"]):
        assert each["endpoint_id"] == slow["id"]


DEADLINE = 3.0
"""Seconds one attempt may take in the test below; its lease is more than twice that."""

LEASE = 15.0


def test_a_trickling_answer_is_cut_off_at_the_deadline_and_never_sent_twice_at_once(
    live_server: LiveServer,
    database_url: str,
    admin: httpx.Client,
    endpoints: Endpoints,
    receiver: Receiver,
) -> None:
    """An endpoint that answers 200 at once and then its body a byte a second would hold an
    attempt for two minutes: the attempt ends at its deadline instead, well within its lease,
    as a failure to retry; the delivery is not sent again meanwhile, and another
    organization's event goes out while the slow attempt is still going."""
    slow_org, other_org = organization_with(live_server, 1), organization_with(live_server, 1)
    with trickling(length=120) as trickler:
        slow = endpoints.register(
            trickler.url(), organization_id=slow_org.id, event_types=["user.created"]
        )
        other = endpoints.register(
            receiver.url("/other"), organization_id=other_org.id, event_types=["user.created"]
        )
        slow_attempts_open: list[int] = []  # as each of the other org's requests arrived

        def plan(_: Received) -> Reply:
            slow_attempts_open.append(trickler.open_now)
            return Reply(200)

        receiver.plan = plan
        with worker_thread(
            database_url, schedule=(600.0,), lease_seconds=LEASE, timeout=DEADLINE, idle=IDLE
        ):
            slow_org.directories[0].http.post("/Users", json=user("slow"))
            wait_until(lambda: trickler.connections == 1, "the slow endpoint starts answering")
            other_org.directories[0].http.post("/Users", json=user("other"))
            wait_until(lambda: endpoints.all_delivered(other["id"], 1), "the other org's event")
            assert slow_attempts_open == [1], "it arrived while the slow attempt was still going"

            def attempted() -> bool:
                return endpoints.deliveries(slow["id"])[0]["attempts"] == 1

            wait_until(attempted, "the slow attempt ends and is recorded", timeout=LEASE)
            wait_until(lambda: trickler.open_now == 0, "the attempt hung up on the endpoint")

    [delivery] = endpoints.deliveries(slow["id"])
    assert delivery["status"] == "pending", "a failure, to retry"
    [attempt] = admin.get(f"/webhooks/deliveries/{delivery['id']}/attempts").json()["data"]
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("ReadTimeout"), attempt["error"]
    assert f"within {DEADLINE:g} s" in attempt["error"]
    assert DEADLINE * 1000 <= attempt["latency_ms"] < LEASE * 1000, "ended within its lease"
    assert trickler.connections == 1 and trickler.most_open == 1, "sent once, never twice"


def test_an_endless_answer_is_read_only_as_far_as_its_excerpt(
    live_server: LiveServer,
    database_url: str,
    admin: httpx.Client,
    endpoints: Endpoints,
) -> None:
    """An endpoint that answers 200 with a body that would never end (a terabyte, sent as fast
    as it is read) is delivered: the sender reads the excerpt's worth and hangs up, well
    before the deadline would have cut a full read off."""
    org = organization_with(live_server, 1)
    with trickling(length=2**24, every=0.0, piece=b"x" * 65536) as endless:
        endpoint = endpoints.register(
            endless.url(), organization_id=org.id, event_types=["user.created"]
        )
        with worker_thread(
            database_url, schedule=(600.0,), lease_seconds=LEASE, timeout=DEADLINE, idle=IDLE
        ):
            org.directories[0].http.post("/Users", json=user("ann"))
            wait_until(lambda: endpoints.all_delivered(endpoint["id"], 1), "it is delivered")
    [delivery] = endpoints.deliveries(endpoint["id"])
    [attempt] = admin.get(f"/webhooks/deliveries/{delivery['id']}/attempts").json()["data"]
    assert attempt["status_code"] == 200 and attempt["error"] is None
    assert attempt["response_excerpt"] == "x" * 1024
    assert endless.connections == 1
