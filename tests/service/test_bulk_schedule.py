"""Bulk requests cost time linear in their size: each operation's data is walked a fixed
number of times, however many operations wait or fail, and the order operations run in
is the one RFC 7644 §3.7 asks for (as sent, an operation waiting for the bulkIds it refers to).
"""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from factories import new_scope
from property_support import property_settings
from scim_payloads import BULK_SCHEMA, group, user
from scimgate.scim.bulk import Schedule, Step
from scimgate.service.provisioning import bulk
from scimgate.service.provisioning.scope import Scope


def _reference_order(needs: list[set[str]], defines: list[str | None]) -> list[Step]:
    """The steps as a direct reading of the rule takes them: at each step every waiting
    operation is checked again. ``defines[i]`` is the bulkId operation i defines when it runs
    (None: it defines none, or it fails)."""
    defined: set[str] = set()
    waiting = list(range(len(needs)))
    steps: list[Step] = []
    while waiting:
        ready = [index for index in waiting if needs[index] <= defined]
        index = ready[0] if ready else waiting[0]
        waiting.remove(index)
        unresolved = frozenset() if ready else frozenset(needs[index] - defined)
        steps.append(Step(index, unresolved))
        if ready and defines[index] is not None:
            defined.add(str(defines[index]))
    return steps


def _taken(needs: list[set[str]], defines: list[str | None]) -> list[Step]:
    schedule = Schedule(needs)
    steps: list[Step] = []
    while (step := schedule.next()) is not None:
        steps.append(step)
        bulk_id = defines[step.index]
        if not step.unresolved and bulk_id is not None:
            schedule.define(bulk_id)
    return steps


BULK_IDS = st.sampled_from(["a", "b", "c", "d", "e", "f"])


@st.composite
def requests(draw: st.DrawFn) -> tuple[list[set[str]], list[str | None]]:
    """Operations referring to bulkIds (forward, backward, unknown, circular, failed ones)."""
    size = draw(st.integers(min_value=0, max_value=12))
    needs = [draw(st.sets(BULK_IDS, max_size=3)) for _ in range(size)]
    defines = [draw(st.none() | BULK_IDS) for _ in range(size)]
    return needs, defines


@given(requests())
@property_settings(300)
def test_schedule_takes_operations_in_the_order_the_rule_gives(
    request: tuple[list[set[str]], list[str | None]],
) -> None:
    needs, defines = request
    assert _taken(needs, defines) == _reference_order(needs, defines)


def test_a_blocked_operation_names_what_it_waits_for() -> None:
    # 0 waits for 1 and 1 for 0 (a circle); 2 refers to a bulkId nothing defines.
    steps = _taken([{"b"}, {"a"}, {"zz"}, set()], ["a", "b", None, None])
    assert steps == [
        Step(3, frozenset()),
        Step(0, frozenset({"b"})),
        Step(1, frozenset({"a"})),
        Step(2, frozenset({"zz"})),
    ]


class _Walked(list[Any]):
    """A list in an operation's data that counts how often it is walked."""

    walks = 0

    def __iter__(self) -> Any:
        self.walks += 1
        return super().__iter__()


@pytest.fixture
def scope(engine: Engine) -> Scope:
    return new_scope(engine, "bulk")


def _envelope(operations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schemas": [BULK_SCHEMA], "Operations": operations}


@pytest.mark.parametrize("size", [50, 200])
def test_operations_that_fail_at_once_walk_their_data_a_fixed_number_of_times(
    scope: Scope, size: int
) -> None:
    """Each fails (a POST without bulkId) carrying a long array: its data is walked once to
    find its references and once to substitute them, whatever its place in the request."""
    data = [_Walked(f"item {n}" for n in range(20)) for _ in range(size)]
    operations = [
        {"method": "POST", "path": "/Users", "data": user(f"u{n}", emails=data[n])}
        for n in range(size)
    ]
    results = bulk.run(scope, _envelope(operations)).operations or []
    assert [result.status for result in results] == [400] * size
    assert max(each.walks for each in data) <= 2
    assert sum(each.walks for each in data) <= 2 * size


@pytest.mark.parametrize("size", [20, 60])
def test_a_chain_sent_backwards_walks_each_operation_a_fixed_number_of_times(
    scope: Scope, size: int
) -> None:
    """Group n has group n+1 as member: the last one sent runs first, then the others, backwards."""
    members = [_Walked([{"value": f"bulkId:g{n + 1}"}]) for n in range(size)]
    operations: list[dict[str, Any]] = [
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": f"g{n}",
            "data": {**group(f"group {n}"), "members": members[n]},
        }
        for n in range(size - 1)
    ]
    operations.append(
        {"method": "POST", "path": "/Groups", "bulkId": f"g{size - 1}", "data": group("last")}
    )
    results = bulk.run(scope, _envelope(operations)).operations or []
    assert [result.status for result in results] == [201] * size
    assert max(each.walks for each in members) <= 2


def test_a_reference_to_a_failed_or_circular_operation_fails_with_409(scope: Scope) -> None:
    operations: list[dict[str, Any]] = [
        {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"userName": ""}},
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "g",
            "data": {**group("needs bad"), "members": [{"value": "bulkId:bad"}]},
        },
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "x",
            "data": {**group("x"), "members": [{"value": "bulkId:y"}]},
        },
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "y",
            "data": {**group("y"), "members": [{"value": "bulkId:x"}]},
        },
        {"method": "POST", "path": "/Users", "bulkId": "ok", "data": user("fine")},
    ]
    results = bulk.run(scope, _envelope(operations)).operations or []
    assert [result.status for result in results] == [400, 409, 409, 409, 201]
    details = [result.response.detail if result.response else "" for result in results]
    assert (details[1] or "").startswith("bulkId:bad ")
    assert (details[2] or "").startswith("bulkId:y ")
