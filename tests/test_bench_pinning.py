"""The benchmark pins a measured server to one core and its load generator to the others."""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from servers import LOAD_CORES, SERVER_CORES, as_load, as_server

ALLOWED = tuple(sorted(os.sched_getaffinity(0)))

PRINT_CORES = [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"]


def test_the_server_has_one_core_and_the_load_every_other() -> None:
    if len(ALLOWED) == 1:
        assert SERVER_CORES == LOAD_CORES == ALLOWED
        return
    assert len(SERVER_CORES) == 1
    assert set(SERVER_CORES).isdisjoint(LOAD_CORES)
    assert tuple(sorted({*SERVER_CORES, *LOAD_CORES})) == ALLOWED


@pytest.mark.skipif(shutil.which("taskset") is None, reason="pinning needs taskset")
@pytest.mark.parametrize(("launch", "cores"), [(as_server, SERVER_CORES), (as_load, LOAD_CORES)])
def test_a_launched_command_runs_on_its_cores_only(
    launch: Callable[[Sequence[str]], list[str]], cores: tuple[int, ...]
) -> None:
    printed = subprocess.run(launch(PRINT_CORES), capture_output=True, text=True, check=True)
    assert printed.stdout.strip() == str(list(cores))
