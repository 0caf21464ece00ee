"""What a serving process imports: the Google client libraries only once it reads Google.

google-auth, Authlib's requests client and the requests they bring add about 10 MiB
to every process (105 against 115 MiB for importing the application), and only a
process that syncs a Google Workspace directory or signs one of its administrators
in needs them; they are imported where they are used.
"""

import json
import subprocess
import sys

GOOGLE_CLIENTS = ("google.auth", "google.oauth2", "requests", "authlib.integrations")


def _imported_after(statement: str) -> list[str]:
    """The client libraries loaded in a new interpreter once ``statement`` ran."""
    probe = (
        f"import json, sys\n{statement}\n"
        f"print(json.dumps(sorted(m for m in {GOOGLE_CLIENTS!r} if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    imported: list[str] = json.loads(done.stdout)
    return imported


def test_the_application_and_the_worker_start_without_them() -> None:
    assert _imported_after("import scimgate.api.app, scimgate.cli.main") == []


def test_reading_google_imports_them() -> None:
    """The probe can see them: a token asked of a service account imports google-auth."""
    imported = _imported_after(
        "from scimgate.config import GoogleSettings\n"
        "from scimgate.service.directory_sync import google_api\n"
        "try:\n"
        "    google_api._delegation({}, GoogleSettings(), 'admin@example.com')\n"
        "except google_api.GoogleApiError:\n"
        "    pass"
    )
    assert "google.oauth2" in imported
