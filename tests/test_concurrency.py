"""Races: real parallel clients against a real server, on each backend.

Each race starts one thread per request, each with its own connection already
open, and releases them together through a barrier so that the requests reach
the server at the same time; every race is run for several rounds. Whatever
order the server picks, the outcome must be one a serial execution could have
given: one winner where only one can win, no acknowledged change lost, one
event per change, and never a 5xx.

Group ``displayName`` is not unique in a directory (``groups`` has no unique
key on it, and ``create_group`` checks none), so concurrent creation of groups
of the same name has nothing to race for and is not tested here.
"""

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx
import pytest

from conftest import DirectoryClient, LiveServer, new_directory
from event_support import Published, last_seq, published
from scim_payloads import BULK_SCHEMA, ERROR_SCHEMA, group, patch, user
from scimgate.service.event_stream import safety
from scimgate.store import memberships
from scimgate.store.transactions import reading

ROUNDS = 10
"""How many times each race is run; the interleavings differ from round to round."""

START_TIMEOUT = 60.0
"""Seconds a thread waits at the barrier for the others (a loaded machine starts threads slowly)."""

Call = Callable[[httpx.Client], httpx.Response]
"""One request of a race, sent with the racing thread's own client."""


@pytest.fixture
def directories(live_server: LiveServer) -> Iterator[Callable[[], DirectoryClient]]:
    """Makes fresh directories, each under its own request-rate budget; closes them afterwards."""
    made: list[DirectoryClient] = []

    def make() -> DirectoryClient:
        directory = new_directory(live_server, "race")
        made.append(directory)
        return directory

    yield make
    for directory in made:
        directory.http.close()


def race(directory: DirectoryClient, calls: Sequence[Call]) -> list[httpx.Response]:
    """Send the calls at the same moment, each from its own thread; answers in call order.

    No answer may be a server error.
    """
    barrier = threading.Barrier(len(calls))
    answers: list[httpx.Response | None] = [None] * len(calls)
    failures: list[BaseException] = []
    health = str(httpx.URL(directory.base_url).copy_with(path="/healthz"))

    def run(index: int) -> None:
        try:
            with httpx.Client(
                base_url=directory.base_url,
                headers=directory.http.headers,
                timeout=60,
            ) as client:
                # Connect before the start, so that the barrier releases requests, not handshakes.
                assert client.get(health).status_code == 200
                barrier.wait(timeout=START_TIMEOUT)
                answers[index] = calls[index](client)
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    done = [answer for answer in answers if answer is not None]
    assert len(done) == len(calls)
    errors = [(each.status_code, each.text) for each in done if each.status_code >= 500]
    assert not errors, errors
    return done


def assert_scim_error(answer: httpx.Response, status: int, scim_type: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert ERROR_SCHEMA in body["schemas"]
    assert body["status"] == str(status)
    assert body["detail"]
    if scim_type is not None:
        assert body["scimType"] == scim_type


def events_of(
    live_server: LiveServer, directory: DirectoryClient, after: int, *kinds: str
) -> list[Published]:
    """The directory's events of these types published after a sequence number, in order."""
    return [
        each
        for each in published(live_server.engine, directory.directory_id, after)
        if each.type in kinds
    ]


def create_users(directory: DirectoryClient, prefix: str, count: int) -> list[str]:
    """Users ``<prefix><n>@example.com``, made in one bulk request; their ids in order."""
    operations = [
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": f"user{index}",
            "data": user(f"{prefix}{index}@example.com"),
        }
        for index in range(count)
    ]
    answer = directory.http.post("/Bulk", json={"schemas": [BULK_SCHEMA], "Operations": operations})
    assert answer.status_code == 200, answer.text
    results = answer.json()["Operations"]
    assert [each["status"] for each in results] == ["201"] * count, results
    return [each["location"].rsplit("/", 1)[1] for each in results]


def create_group(directory: DirectoryClient, name: str, member_ids: list[str]) -> str:
    created = directory.http.post("/Groups", json=group(name, member_ids))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def members_and_version(directory: DirectoryClient, group_id: str) -> tuple[list[str], str]:
    found = directory.http.get(f"/Groups/{group_id}")
    assert found.status_code == 200, found.text
    body = found.json()
    return [each["value"] for each in body.get("members", [])], body["meta"]["version"]


def version_number(etag: str) -> int:
    """The number in a weak ETag such as ``W/"3"``."""
    assert etag.startswith('W/"') and etag.endswith('"'), etag
    return int(etag[3:-1])


# 1. Creating the same userName at once


def _poster(body: dict[str, Any]) -> Call:
    return lambda client: client.post("/Users", json=body)


def test_one_of_many_concurrent_creates_of_a_user_name_wins(
    live_server: LiveServer, directories: Callable[[], DirectoryClient]
) -> None:
    directory = directories()
    after = last_seq(live_server.engine)
    winners: dict[str, str] = {}
    for round_ in range(ROUNDS):
        name = f"race{round_}@example.com"
        # The same name, and the same name in other cases: userName is unique regardless of case.
        spellings = [name, name.upper(), name.title(), name.capitalize()] * 2
        answers = race(directory, [_poster(user(each, active=True)) for each in spellings])

        created = [each for each in answers if each.status_code == 201]
        assert len(created) == 1, [(each.status_code, each.text) for each in answers]
        for each in answers:
            if each.status_code != 201:
                assert_scim_error(each, 409, "uniqueness")
        winner = created[0].json()
        assert winner["userName"] in spellings
        winners[winner["id"]] = winner["userName"]

        found = directory.http.get("/Users", params={"filter": f'userName eq "{name}"'})
        assert found.status_code == 200, found.text
        assert [each["id"] for each in found.json()["Resources"]] == [winner["id"]]

    listed = directory.http.get("/Users", params={"count": 1000}).json()
    assert {each["id"]: each["userName"] for each in listed["Resources"]} == winners
    assert listed["totalResults"] == ROUNDS
    events = events_of(live_server, directory, after, "user.created")
    assert Counter(str(each.resource_id) for each in events) == Counter(list(winners))


def test_one_of_many_concurrent_renames_to_a_user_name_wins(
    live_server: LiveServer, directories: Callable[[], DirectoryClient]
) -> None:
    """Users renamed to one free userName at once, by PUT and by PATCH: one gets it."""
    directory = directories()
    for round_ in range(ROUNDS):
        ids = create_users(directory, f"renamed{round_}-", 6)
        target = f"wanted{round_}@example.com"
        calls = [
            _send("PUT", f"/Users/{user_id}", user(target.upper() if n % 3 else target), {})
            if n % 2
            else _send(
                "PATCH",
                f"/Users/{user_id}",
                patch({"op": "replace", "path": "userName", "value": target}),
                {},
            )
            for n, user_id in enumerate(ids)
        ]
        answers = race(directory, calls)

        won = [user_id for user_id, each in zip(ids, answers, strict=True) if each.is_success]
        assert len(won) == 1, [(each.status_code, each.text) for each in answers]
        for each in answers:
            if not each.is_success:
                assert_scim_error(each, 409, "uniqueness")
        found = directory.http.get("/Users", params={"filter": f'userName eq "{target}"'})
        assert [each["id"] for each in found.json()["Resources"]] == won


# 2. Membership changes to one group at once

MEMBERS = 20
"""Users joining one group at once, each from its own client."""

MEMBER_ROUNDS = 5
"""Rounds of the races of ``MEMBERS`` clients, which cost the most to set up."""


def _entra_add(group_id: str, user_id: str) -> Call:
    """Entra ID: capitalised op, one member per PATCH, ``$ref: null``."""
    body = patch({"op": "Add", "path": "members", "value": [{"$ref": None, "value": user_id}]})
    return lambda client: client.patch(f"/Groups/{group_id}", json=body)


def _entra_remove(group_id: str, user_id: str) -> Call:
    """Entra ID: removal with a ``value`` list."""
    body = patch({"op": "Remove", "path": "members", "value": [{"value": user_id}]})
    return lambda client: client.patch(f"/Groups/{group_id}", json=body)


def _okta_push(group_id: str, name: str, user_id: str) -> Call:
    """Okta: the group's name repeated with its id, and a member added, in one PATCH."""
    body = patch(
        {"op": "replace", "value": {"id": group_id, "displayName": name}},
        {"op": "add", "path": "members", "value": [{"value": user_id, "display": user_id}]},
    )
    return lambda client: client.patch(f"/Groups/{group_id}", json=body)


def _okta_remove(group_id: str, user_id: str) -> Call:
    body = patch({"op": "remove", "path": f'members[value eq "{user_id}"]'})
    return lambda client: client.patch(f"/Groups/{group_id}", json=body)


def _membership_events(
    live_server: LiveServer, directory: DirectoryClient, after: int, kind: str, group_id: str
) -> Counter[str]:
    return Counter(
        str(each.resource_id)
        for each in events_of(live_server, directory, after, kind)
        if each.data["group"]["id"] == group_id
    )


@pytest.mark.parametrize("dialect", ["entra", "okta"])
def test_concurrent_member_adds_lose_no_member(
    live_server: LiveServer, directories: Callable[[], DirectoryClient], dialect: str
) -> None:
    for round_ in range(MEMBER_ROUNDS):
        directory = directories()
        joining = create_users(directory, f"joiner{round_}-", MEMBERS)
        name = f"team {round_}"
        group_id = create_group(directory, name, [])
        _, version = members_and_version(directory, group_id)
        after = last_seq(live_server.engine)

        calls = [
            _entra_add(group_id, each) if dialect == "entra" else _okta_push(group_id, name, each)
            for each in joining
        ]
        answers = race(directory, calls)

        assert [each.status_code for each in answers] == [204] * MEMBERS
        members, final_version = members_and_version(directory, group_id)
        assert sorted(members) == sorted(joining)
        # Every add moved the version once: none was applied over a stale read.
        assert version_number(final_version) == version_number(version) + MEMBERS
        added = _membership_events(live_server, directory, after, "group.user_added", group_id)
        assert added == Counter(joining)
        assert not events_of(live_server, directory, after, "group.user_removed", "group.updated")


@pytest.mark.parametrize("dialect", ["entra", "okta"])
def test_concurrent_adds_and_removes_of_disjoint_members_keep_the_exact_set(
    live_server: LiveServer, directories: Callable[[], DirectoryClient], dialect: str
) -> None:
    half = MEMBERS // 2
    for round_ in range(MEMBER_ROUNDS):
        directory = directories()
        staying = create_users(directory, f"stayer{round_}-", 3)
        leaving = create_users(directory, f"leaver{round_}-", half)
        joining = create_users(directory, f"joiner{round_}-", half)
        name = f"team {round_}"
        group_id = create_group(directory, name, staying + leaving)
        after = last_seq(live_server.engine)

        if dialect == "entra":
            adds = [_entra_add(group_id, each) for each in joining]
            removes = [_entra_remove(group_id, each) for each in leaving]
        else:
            adds = [_okta_push(group_id, name, each) for each in joining]
            removes = [_okta_remove(group_id, each) for each in leaving]
        # Interleaved, so that adds and removes start side by side.
        calls = [call for pair in zip(adds, removes, strict=True) for call in pair]
        answers = race(directory, calls)

        assert [each.status_code for each in answers] == [204] * len(calls)
        members, _ = members_and_version(directory, group_id)
        assert sorted(members) == sorted(staying + joining)
        added = _membership_events(live_server, directory, after, "group.user_added", group_id)
        removed = _membership_events(live_server, directory, after, "group.user_removed", group_id)
        assert added == Counter(joining)
        assert removed == Counter(leaving)


def test_concurrent_adds_of_the_same_member_add_it_once(
    live_server: LiveServer, directories: Callable[[], DirectoryClient]
) -> None:
    for round_ in range(ROUNDS):
        directory = directories()
        (user_id,) = create_users(directory, f"twice{round_}-", 1)
        group_id = create_group(directory, f"team {round_}", [])
        _, version = members_and_version(directory, group_id)
        after = last_seq(live_server.engine)

        answers = race(directory, [_entra_add(group_id, user_id) for _ in range(8)])

        # Re-adding an existing member succeeds and changes nothing.
        assert [each.status_code for each in answers] == [204] * 8
        members, final_version = members_and_version(directory, group_id)
        assert members == [user_id]
        assert version_number(final_version) == version_number(version) + 1
        added = _membership_events(live_server, directory, after, "group.user_added", group_id)
        assert added == Counter([user_id])


def test_a_member_added_while_it_is_deleted_is_not_left_behind(
    live_server: LiveServer, directories: Callable[[], DirectoryClient]
) -> None:
    """A user deleted while a PATCH adds it to a group: either the add is refused (the user is
    gone) or the user leaves the group with its deletion; the group never keeps a deleted user."""
    outcomes: Counter[str] = Counter()
    for round_ in range(ROUNDS):
        directory = directories()
        others = create_users(directory, f"other{round_}-", 3)
        (doomed,) = create_users(directory, f"doomed{round_}-", 1)
        group_id = create_group(directory, f"team {round_}", [])
        after = last_seq(live_server.engine)

        added, deleted = race(
            directory,
            [_entra_add(group_id, doomed), _send("DELETE", f"/Users/{doomed}", {}, {})]
            + [_entra_add(group_id, each) for each in others],
        )[:2]

        assert deleted.status_code == 204, deleted.text
        assert directory.http.get(f"/Users/{doomed}").status_code == 404
        members, _ = members_and_version(directory, group_id)
        assert sorted(members) == sorted(others)
        # Reading the group hides a row for a deleted user; the rows themselves must not hold one.
        with reading(live_server.engine) as conn:
            left = memberships.member_ids(conn, directory.directory_id, group_id, [doomed])
        kinds = [
            each.type
            for each in events_of(
                live_server,
                directory,
                after,
                "group.user_added",
                "group.user_removed",
                "user.deleted",
            )
            if str(each.resource_id) == doomed
        ]
        assert not left, f"a membership row outlived its deleted user; events: {kinds}"
        if added.status_code == 204:
            outcomes["added, then deleted"] += 1
            assert kinds == ["group.user_added", "group.user_removed", "user.deleted"]
        else:
            outcomes["deleted, then refused"] += 1
            assert_scim_error(added, 400, "invalidValue")
            assert kinds == ["user.deleted"]
    assert sum(outcomes.values()) == ROUNDS, outcomes


# 3. Conditional writes carrying the same ETag

CONTENDERS = 6


def _send(method: str, url: str, body: dict[str, Any], headers: dict[str, str]) -> Call:
    return lambda client: client.request(method, url, json=body, headers=headers)


def _conditional(kind: str, url: str, user_name: str, etag: str, index: int) -> tuple[Call, str]:
    """A write to ``url`` naming version ``etag``, and the display name it would leave behind.

    A user's PUT repeats its ``user_name``.
    """
    name = f"contender {index}"
    headers = {"If-Match": etag}
    renaming = patch({"op": "replace", "path": "displayName", "value": name})
    bodies = {
        "put user": ("PUT", user(user_name, displayName=name)),
        "patch user": ("PATCH", renaming),
        "put group": ("PUT", group(name)),
        "patch group": ("PATCH", renaming),
    }
    method, body = bodies[kind]
    return _send(method, url, body, headers), name


@pytest.mark.parametrize("kind", ["put user", "patch user", "put group", "patch group"])
def test_one_of_many_writes_with_the_same_etag_wins(
    live_server: LiveServer, directories: Callable[[], DirectoryClient], kind: str
) -> None:
    directory = directories()
    for_users = kind.endswith("user")
    update_event = "user.updated" if for_users else "group.updated"
    for round_ in range(ROUNDS):
        user_name = f"etag{round_}@example.com"
        if for_users:
            created = directory.http.post("/Users", json=user(user_name))
            assert created.status_code == 201, created.text
            url = f"/Users/{created.json()['id']}"
        else:
            url = f"/Groups/{create_group(directory, f'etag {round_}', [])}"
        current = directory.http.get(url)
        etag = current.headers["etag"]
        assert etag == current.json()["meta"]["version"]
        after = last_seq(live_server.engine)

        contenders = [_conditional(kind, url, user_name, etag, n) for n in range(CONTENDERS)]
        answers = race(directory, [call for call, _ in contenders])

        won = [n for n, each in enumerate(answers) if each.is_success]
        assert len(won) == 1, [(each.status_code, each.text) for each in answers]
        for n, each in enumerate(answers):
            if n not in won:
                assert_scim_error(each, 412)
        winner_name = contenders[won[0]][1]
        stored = directory.http.get(url)
        assert stored.json()["displayName"] == winner_name
        assert version_number(stored.headers["etag"]) == version_number(etag) + 1
        if answers[won[0]].status_code == 200:  # a group PATCH answers 204, without a body
            assert answers[won[0]].json()["displayName"] == winner_name
            assert answers[won[0]].headers["etag"] == stored.headers["etag"]
        updates = events_of(live_server, directory, after, update_event)
        assert [str(each.resource_id) for each in updates] == [url.rsplit("/", 1)[1]]


# 5. Deactivation and replacement of one user at once


def test_concurrent_deactivate_and_put_end_in_a_serial_outcome(
    live_server: LiveServer, directories: Callable[[], DirectoryClient]
) -> None:
    directory = directories()
    # Deactivating users one after another would otherwise trip the safety valve.
    safety.configure(live_server.engine, directory.directory_id, max_count=0, max_percent=0)
    orders: Counter[str] = Counter()
    for round_ in range(ROUNDS):
        name = f"mover{round_}@example.com"
        created = directory.http.post("/Users", json=user(name, displayName="Before", active=True))
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]
        version = version_number(created.headers["etag"])
        after = last_seq(live_server.engine)

        url = f"/Users/{user_id}"
        deactivated, replaced = race(
            directory,
            [
                _send("PATCH", url, patch({"op": "replace", "path": "active", "value": False}), {}),
                _send("PUT", url, user(name, displayName="After", active=True), {}),
            ],
        )

        assert deactivated.status_code == 200, deactivated.text
        assert replaced.status_code == 200, replaced.text
        assert (deactivated.json()["active"], replaced.json()["active"]) == (False, True)
        assert replaced.json()["displayName"] == "After"
        final = directory.http.get(f"/Users/{user_id}")
        assert final.json()["displayName"] == "After"
        assert version_number(final.headers["etag"]) == version + 2
        kinds = [
            each.type
            for each in events_of(
                live_server,
                directory,
                after,
                "user.updated",
                "user.deactivated",
                "user.reactivated",
            )
        ]
        if kinds == ["user.deactivated", "user.reactivated"]:
            # The deactivation first, then the PUT made the user active again.
            orders["deactivate, put"] += 1
            assert final.json()["active"] is True
            assert deactivated.json()["displayName"] == "Before"
        else:
            # The PUT first, then the deactivation of the renamed user.
            assert kinds == ["user.updated", "user.deactivated"], kinds
            orders["put, deactivate"] += 1
            assert final.json()["active"] is False
            assert deactivated.json()["displayName"] == "After"
    assert sum(orders.values()) == ROUNDS
