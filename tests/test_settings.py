"""Settings from the environment: a variable set to nothing is a variable not set."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scimgate.config import DEFAULT_DATABASE_URL, Settings


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_database_url_is_the_default(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SCIMGATE_DATABASE_URL", value)
    assert Settings.from_env().database_url == DEFAULT_DATABASE_URL


def test_the_cli_with_an_empty_database_url_uses_the_embedded_default(tmp_path: Path) -> None:
    """As ``SCIMGATE_DATABASE_URL= scimgate migrate`` in a new folder: the SQLite file
    beside it, not an error about an empty URL."""
    done = subprocess.run(
        [sys.executable, "-m", "scimgate", "migrate"],
        cwd=tmp_path,
        env={**os.environ, "SCIMGATE_DATABASE_URL": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "scimgate.db").is_file()
