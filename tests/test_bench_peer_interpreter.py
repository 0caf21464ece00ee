"""The reference peer is served by the interpreter that serves scimgate in the same run."""

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from peer import ours


def test_an_environment_made_by_this_interpreter_is_its_own(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path)], check=True)
    assert ours(tmp_path / "bin" / "python")


def test_an_environment_of_another_interpreter_is_not(tmp_path: Path) -> None:
    """Another installation, or another release or build in the same place."""
    for base, version in [("/elsewhere", sys.version), (sys.base_prefix, "3.11.2 (other)")]:
        python = tmp_path / "python"
        python.write_text(f"#!/bin/sh\nprintf '%s\\n%s\\n' '{base}' '{version}'\n")
        python.chmod(0o755)
        assert not ours(python), (base, version)
