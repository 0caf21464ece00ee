"""The W1 profile's reading of py-spy's collapsed stacks: layers, and stacks read cut short."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from w1_profile import summary

PROCESS = 'process 7:"scimgate serve"'
ROOT = "<module> (scimgate:8)"
LOOP = "Runner.run (asyncio/runners.py:118)"
EDGE = "ScimEdge.__call__ (scimgate/api/scim_edge.py:129)"
SERVICE = "create_user_document (scimgate/service/provisioning/users.py:60)"
THREAD = "Thread._bootstrap (threading.py:1002)"
CHECKPOINT = "checkpoint (scimgate/store/checkpoints.py:40)"


def _raw(tmp_path: Path, lines: list[str]) -> Path:
    raw = tmp_path / "w1-profile.collapsed.txt"
    raw.write_text("".join(f"{line}\n" for line in lines))
    return raw


def test_stacks_from_a_threads_first_frame_are_whole_and_others_are_counted_cut(
    tmp_path: Path,
) -> None:
    found = summary(
        _raw(
            tmp_path,
            [
                f"{PROCESS};{ROOT};{LOOP};{EDGE};{SERVICE} 6",
                f"{PROCESS};{THREAD};{CHECKPOINT} 2",
                # Read as the coroutine chain changed: it begins at the edge's coroutine.
                f"{PROCESS};{EDGE} 3",
            ],
        )
    )

    assert found["samples"] == 11
    assert found["cut_samples"] == 3
    assert found["self_share"] == {
        "scimgate.service": round(6 / 11, 4),
        "scimgate.api (edge)": round(3 / 11, 4),
        "scimgate.store": round(2 / 11, 4),
    }
