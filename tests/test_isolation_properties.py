"""Isolation as a property: whatever one directory's token does, another directory never changes.

Hypothesis draws pairs of directories (in one organization, or in two) and
sequences of requests (creates, replacements, PATCHes, deletions, membership
changes, bulk requests, searches, cursor walks) sent with B's token. Each
sequence also tries A's ids (and near misses of them) through B's URL, B's
token on A's URL, A's members added to B's groups and B's filters for A's
rows. A's users, groups, memberships and events must be exactly as before.

The example count is small in CI. For a longer run, set the environment
variable ``SCIMGATE_PROPERTY_EXAMPLES`` (for example
``SCIMGATE_PROPERTY_EXAMPLES=500 pytest tests/test_isolation_properties.py``);
the examples are then drawn at random instead of from a fixed seed.
"""

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import DirectoryClient, LiveServer, new_directory
from factories import organization_of
from property_support import check_answer, limited, near_misses, property_settings, snapshot
from scim_payloads import BULK_SCHEMA, SEARCH_SCHEMA, group, patch, user
from scimgate.service.administration import tenants
from scimgate.store.ids import new_id


@dataclass
class Pair:
    """Directory A, which must not change, and directory B, whose token does everything."""

    a: DirectoryClient
    b: DirectoryClient
    a_users: list[str]
    a_groups: list[str]


def _populate(directory: DirectoryClient, label: str) -> tuple[list[str], list[str]]:
    users = []
    for n in range(3):
        created = directory.http.post(
            "/Users",
            json=user(
                f"{label}{n}@shared.example",
                externalId=f"{label}-ext-{n}",
                emails=[{"value": f"{label}{n}@shared.example", "type": "work"}],
            ),
        )
        assert created.status_code == 201, created.text
        users.append(created.json()["id"])
    inner = directory.http.post("/Groups", json=group(f"{label} inner", users[:1]))
    outer = directory.http.post(
        "/Groups", json=group(f"{label} outer", [*users[1:], inner.json()["id"]])
    )
    assert inner.status_code == outer.status_code == 201, outer.text
    return users, [inner.json()["id"], outer.json()["id"]]


def _pair(server: LiveServer, same_organization: bool) -> Pair:
    a = new_directory(server, "A")
    if same_organization:
        organization_id = organization_of(server.engine, a.directory_id)
        created = tenants.create_directory(server.engine, organization_id, "B")
        base_url = f"{server.url}/scim/v2/{created.directory.id}"
        http = httpx.Client(
            base_url=base_url,
            headers={
                "Authorization": f"Bearer {created.token.secret}",
                "Content-Type": "application/scim+json",
            },
            timeout=30,
        )
        b = DirectoryClient(created.directory.id, created.token.secret, base_url, http)
    else:
        b = new_directory(server, "B")
    a_users, a_groups = _populate(a, "a")
    # B holds the same userNames and group names as A, so that a leak cannot hide behind a miss.
    _populate(b, "a")
    return Pair(a, b, a_users, a_groups)


@pytest.fixture(params=["same organization", "other organizations"])
def pair(request: pytest.FixtureRequest, live_server: LiveServer) -> Iterator[Pair]:
    made = _pair(live_server, request.param == "same organization")
    yield made
    made.a.http.close()
    made.b.http.close()


# What B's token does: each step is a (kind, argument) pair, interpreted by _run.
STEPS = st.one_of(
    st.tuples(st.just("create user"), st.integers(0, 5)),
    st.tuples(st.just("create group"), st.integers(0, 3)),
    st.tuples(st.just("replace"), st.integers(0, 10)),
    st.tuples(st.just("patch"), st.integers(0, 10)),
    st.tuples(st.just("delete"), st.integers(0, 10)),
    st.tuples(st.just("add A's member"), st.integers(0, 10)),
    st.tuples(st.just("a's id on b's url"), st.integers(0, 40)),
    st.tuples(st.just("b's token on a's url"), st.integers(0, 6)),
    st.tuples(st.just("bulk"), st.integers(0, 10)),
    st.tuples(st.just("filter"), st.integers(0, 10)),
    st.tuples(st.just("search"), st.integers(0, 2)),
    st.tuples(st.just("cursor walk"), st.integers(1, 3)),
)


@dataclass
class Run:
    """What a sequence has learned about B so far: its own ids, for steps that need one."""

    pair: Pair
    b_users: list[str]
    b_groups: list[str]

    def b_resource(self, n: int) -> tuple[str, str] | None:
        resources = [("/Users", u) for u in self.b_users] + [("/Groups", g) for g in self.b_groups]
        return resources[n % len(resources)] if resources else None

    def a_resource(self, n: int) -> tuple[str, str]:
        resources = [("/Users", u) for u in self.pair.a_users] + [
            ("/Groups", g) for g in self.pair.a_groups
        ]
        return resources[n % len(resources)]


def _b_ids(b: DirectoryClient) -> tuple[list[str], list[str]]:
    users, groups = (
        [r["id"] for r in b.http.get(endpoint, params={"count": 1000}).json().get("Resources", [])]
        for endpoint in ("/Users", "/Groups")
    )
    return users, groups


def _run(run: Run, step: tuple[str, int]) -> None:
    kind, n = step
    b = run.pair.b.http
    a_ids = set(run.pair.a_users) | set(run.pair.a_groups)
    if kind == "create user":
        created = b.post("/Users", json=user(f"b-{secrets.token_hex(4)}@b.example", title=str(n)))
        check_answer(created)
        if created.status_code == 201:
            run.b_users.append(created.json()["id"])
    elif kind == "create group":
        created = b.post("/Groups", json=group(f"B {secrets.token_hex(4)}", run.b_users[:n]))
        check_answer(created)
        if created.status_code == 201:
            run.b_groups.append(created.json()["id"])
    elif kind in ("replace", "patch", "delete"):
        found = run.b_resource(n)
        if found is None:
            return
        endpoint, resource_id = found
        if kind == "replace":
            body = (
                user(f"b-{secrets.token_hex(4)}@b.example")
                if endpoint == "/Users"
                else group(f"B {secrets.token_hex(4)}", run.b_users[:1])
            )
            check_answer(b.put(f"{endpoint}/{resource_id}", json=body))
        elif kind == "patch":
            change = (
                patch({"op": "replace", "path": "title", "value": "patched"})
                if endpoint == "/Users"
                else patch({"op": "replace", "path": "displayName", "value": f"B {n}"})
            )
            check_answer(b.patch(f"{endpoint}/{resource_id}", json=change))
        else:
            deleted = b.delete(f"{endpoint}/{resource_id}")
            check_answer(deleted)
            if deleted.status_code == 204:
                (run.b_users if endpoint == "/Users" else run.b_groups).remove(resource_id)
    elif kind == "add A's member":
        _add_a_member(run, n)
    elif kind == "a's id on b's url":
        _a_id_on_b_url(run, n)
    elif kind == "b's token on a's url":
        _b_token_on_a_url(run, n)
    elif kind == "bulk":
        _bulk(run, n)
    elif kind == "filter":
        _filter(run, n)
    elif kind == "search":
        endpoint = ("/.search", "/Users/.search", "/Groups/.search")[n]
        found = b.post(endpoint, json={"schemas": [SEARCH_SCHEMA], "count": 1000})
        check_answer(found)
        assert not {r["id"] for r in found.json().get("Resources", [])} & a_ids
    else:
        _cursor_walk(run, n)


def _add_a_member(run: Run, n: int) -> None:
    """A's ids as members of B's groups: refused with 400 invalidValue naming the id; no link."""
    b = run.pair.b.http
    _, member = run.a_resource(n)
    target = run.b_resource(n)
    attempts = [b.post("/Groups", json=group(f"B grab {n}", [member]))]
    if target is not None and target[0] == "/Groups":
        url = f"/Groups/{target[1]}"
        attempts.append(
            b.patch(url, json=patch({"op": "add", "path": "members", "value": [{"value": member}]}))
        )
        attempts.append(b.put(url, json=group(f"B put {n}", [member])))
    for response in attempts:
        if limited(response):
            continue
        assert response.status_code == 400, response.text
        assert response.json()["scimType"] == "invalidValue"
        assert member in response.json()["detail"]
    linked = b.get("/Groups", params={"filter": f'members.value eq "{member}"'})
    assert limited(linked) or (linked.status_code == 200 and linked.json()["totalResults"] == 0), (
        linked.text
    )


def _a_id_on_b_url(run: Run, n: int) -> None:
    """A's ids, and ids one edit away from them, through B's URL: 404 for every method."""
    b = run.pair.b.http
    endpoint, real = run.a_resource(n)
    candidates = [real, *near_misses(real)]
    resource_id = candidates[n % len(candidates)]
    url = f"{endpoint}/{resource_id}"
    body = user("stolen@b.example") if endpoint == "/Users" else group("stolen")
    change = patch({"op": "replace", "path": "externalId", "value": "stolen"})
    method = n % 4
    if method == 0:
        response = b.get(url)
    elif method == 1:
        response = b.put(url, json=body)
    elif method == 2:
        response = b.patch(url, json=change)
    else:
        response = b.delete(url)
    assert limited(response) or response.status_code == 404, (url, response.text)


def _b_token_on_a_url(run: Run, n: int) -> None:
    """B's valid token on A's URL answers exactly what it answers on a directory nobody has.

    So the answer says nothing about A. (A valid token anywhere but its own
    directory is a 404, by design: see ``tenants.authenticate``.)
    """
    pair = run.pair
    path = ("/Users", "/Groups", f"/Users/{pair.a_users[0]}", f"/Groups/{pair.a_groups[0]}")[n % 4]
    method = "DELETE" if n >= 4 and "/" in path[1:] else "GET"
    headers = {"Authorization": f"Bearer {pair.b.token}"}
    server = pair.a.base_url.rsplit("/scim/v2/", 1)[0]
    nobody = new_id()
    on_a = httpx.request(method, f"{pair.a.base_url}{path}", headers=headers, timeout=30)
    on_nobody = httpx.request(
        method, f"{server}/scim/v2/{nobody}{path}", headers=headers, timeout=30
    )
    if limited(on_a) or limited(on_nobody):
        return
    assert on_a.status_code == on_nobody.status_code == 404, on_a.text
    assert _without_request_id(on_a.json()["detail"]) == _without_request_id(
        on_nobody.json()["detail"]
    ).replace(nobody, pair.a.directory_id)
    assert {**on_a.json(), "detail": ""} == {**on_nobody.json(), "detail": ""}
    assert on_a.headers.get("www-authenticate") == on_nobody.headers.get("www-authenticate")


def _without_request_id(detail: str) -> str:
    """An error's detail without the request id it ends with, which differs between requests."""
    return re.sub(r"\s*\(request id [^)]*\)", "", detail)


def _bulk(run: Run, n: int) -> None:
    """A bulk request of B's that names A's resources: each of those operations fails alone."""
    b = run.pair.b.http
    endpoint, a_id = run.a_resource(n)
    mine = f"b-bulk-{secrets.token_hex(4)}@b.example"
    operations: list[dict[str, Any]] = [
        {"method": "POST", "path": "/Users", "bulkId": "mine", "data": user(mine)},
        {"method": "DELETE", "path": f"{endpoint}/{a_id}"},
        {
            "method": "PATCH",
            "path": f"{endpoint}/{a_id}",
            "data": patch({"op": "replace", "path": "externalId", "value": "stolen"}),
        },
        {"method": "POST", "path": "/Groups", "data": group(f"B bulk {n}", [a_id])},
    ]
    answer = b.post("/Bulk", json={"schemas": [BULK_SCHEMA], "Operations": operations})
    if limited(answer):
        return
    statuses = [o["status"] for o in answer.json()["Operations"]]
    assert statuses == ["201", "404", "404", "400"], answer.text
    created = answer.json()["Operations"][0]["location"].rsplit("/", 1)[1]
    run.b_users.append(created)


def _filter(run: Run, n: int) -> None:
    """B's filters that name A's ids, userNames and externalIds find only B's own rows."""
    b = run.pair.b.http
    a = run.pair
    a_user, a_group = a.a_users[n % len(a.a_users)], a.a_groups[n % len(a.a_groups)]
    expressions = [
        ("/Users", f'id eq "{a_user}"'),
        ("/Users", f'groups.value eq "{a_group}"'),
        ("/Groups", f'id eq "{a_group}"'),
        ("/Groups", f'members.value eq "{a_user}"'),
        ("/Users", 'userName co "@shared.example"'),
        ("/Users", 'externalId sw "a-ext"'),
        ("/Users", 'emails[type eq "work" and value co "shared"]'),
        ("/Groups", 'displayName sw "a "'),
        ("/Users", f'id eq "{a_user}" or userName pr'),
        ("/Groups", f'id eq "{a_group}" or displayName pr'),
        ("/Users", f'not (id eq "{a_user}")'),
    ]
    endpoint, expression = expressions[n % len(expressions)]
    found = b.get(endpoint, params={"filter": expression, "count": 1000})
    check_answer(found)
    ids = {r["id"] for r in found.json().get("Resources", [])}
    assert not ids & (set(a.a_users) | set(a.a_groups)), expression
    assert ids <= set(run.b_users) | set(run.b_groups), expression


def _cursor_walk(run: Run, n: int) -> None:
    """Walking B's users page by page with cursors reaches every B user and no A user."""
    b = run.pair.b.http
    seen: list[str] = []
    parameters: dict[str, Any] = {"cursor": "", "count": n}
    for _ in range(200):
        page = b.get("/Users", params=parameters)
        if limited(page):
            return
        seen.extend(r["id"] for r in page.json().get("Resources", []))
        following = page.json().get("nextCursor")
        if not following:
            break
        parameters = {"cursor": following, "count": n}
    assert sorted(seen) == sorted(run.b_users)


def test_nothing_of_a_is_reachable_through_bs_token(live_server: LiveServer, pair: Pair) -> None:
    before = snapshot(live_server, pair.a)
    b_users, b_groups = _b_ids(pair.b)

    @property_settings(default_examples=10)
    @given(st.lists(STEPS, min_size=4, max_size=12))
    def sequence(steps: list[tuple[str, int]]) -> None:
        run = Run(pair, *_b_ids(pair.b))
        for step in steps:
            _run(run, step)
        assert snapshot(live_server, pair.a) == before

    sequence()
    assert snapshot(live_server, pair.a) == before
    assert _b_ids(pair.b) != (b_users, b_groups)  # B's own writes went through all along


def test_a_token_is_matched_by_its_hash_whole_not_by_a_prefix(scim: DirectoryClient) -> None:
    """Tokens are looked up by SHA-256 and compared with ``hmac.compare_digest``.

    What that implies, and what can be observed: a token one character off
    (at its end, at its start), a prefix, an extension and a token of another
    length all get the same 401 as a random token, so no part of a real
    token is ever worth more than none of it.
    """
    real = scim.token
    body = secrets.token_urlsafe(32)
    variants = [
        real[:-1] + ("A" if real[-1] != "A" else "B"),
        real[: len(tenants.TOKEN_PREFIX)] + ("x" if real[9] != "x" else "y") + real[10:],
        real[:-8],
        real + "x",
        real.upper(),
        f"{tenants.TOKEN_PREFIX}{body}",
        f"{tenants.TOKEN_PREFIX}{body[:5]}",
        "x" * 4096,
    ]
    answers = [
        httpx.get(f"{scim.base_url}/Users", headers={"Authorization": f"Bearer {v}"}, timeout=30)
        for v in variants
    ]
    reference = answers[-1]
    assert reference.status_code == 401
    for variant, answer in zip(variants, answers, strict=True):
        assert answer.status_code == 401, variant
        assert _without_request_id(answer.json()["detail"]) == _without_request_id(
            reference.json()["detail"]
        ), variant
        assert {**answer.json(), "detail": ""} == {**reference.json(), "detail": ""}, variant
        assert answer.headers["www-authenticate"] == reference.headers["www-authenticate"]
    assert scim.http.get("/Users").status_code == 200
