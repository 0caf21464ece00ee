"""``scimgate.records.frozen``: a frozen dataclass to the type checker, a plain one when made.

What a frozen dataclass gave that code may rely on stays: equality and hashing by the
fields, ``dataclasses.replace``, slots when asked, a class's own ``__hash__``. Assignment
is refused by ``mypy --strict`` (which ``scripts/test`` runs over ``src``), not at run time.
"""

import subprocess
import sys
from dataclasses import FrozenInstanceError, dataclass, fields, replace
from pathlib import Path

import pytest

from scimgate.records import frozen


@frozen
class Point:
    x: int
    y: str = "a"


@dataclass(frozen=True)
class FrozenPoint:
    x: int
    y: str = "a"


@frozen(slots=True)
class Slotted:
    x: int


@frozen
class OwnHash:
    x: int

    def __hash__(self) -> int:
        return 7


def test_a_record_is_equal_and_hashes_as_a_frozen_dataclass() -> None:
    assert Point(1) == Point(1, "a") != Point(2)
    assert hash(Point(1, "b")) == hash(FrozenPoint(1, "b"))
    assert len({Point(1), Point(1), Point(2)}) == 2
    assert [field.name for field in fields(Point)] == [field.name for field in fields(FrozenPoint)]
    assert replace(Point(1), y="b") == Point(1, "b")
    assert repr(Point(1)) == "Point(x=1, y='a')"


def test_slots_and_a_class_hash_are_kept() -> None:
    assert not hasattr(Slotted(1), "__dict__") and Slotted(1) == Slotted(1)
    assert hash(OwnHash(1)) == 7


def test_a_record_is_made_without_the_frozen_check() -> None:
    """What makes it cheap: no ``object.__setattr__`` per field. The frozen dataclass's check
    is still there for comparison."""
    with pytest.raises(FrozenInstanceError):
        FrozenPoint(1).x = 2  # type: ignore[misc]
    point = Point(1)
    object.__setattr__(point, "x", 2)  # what mypy keeps the code from writing as point.x = 2
    assert point.x == 2


def test_the_type_checker_refuses_an_assignment(tmp_path: Path) -> None:
    checked = tmp_path / "assigns.py"
    checked.write_text(
        "from scimgate.records import frozen\n\n\n"
        "@frozen\nclass Point:\n    x: int\n\n\n"
        "point = Point(1)\npoint.x = 2\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(checked)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1 and 'Property "x" defined in "Point" is read-only' in run.stdout, (
        run.stdout + run.stderr
    )
