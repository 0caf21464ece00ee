"""Without Chromium the browser tests say what to install, and skip only when asked to."""

import sys

from browser_support import SKIP_ASKED, no_browser


def test_a_present_browser_is_used() -> None:
    assert no_browser(sys.executable, {}) is None


def test_a_missing_browser_fails_with_what_to_install() -> None:
    missing = no_browser("/nonexistent/chromium", {})
    assert missing is not None and not missing.skip
    assert "apt-get install chromium" in missing.reason
    assert f"{SKIP_ASKED}=1" in missing.reason


def test_a_missing_browser_is_skipped_only_when_asked() -> None:
    for asked, skipped in (("1", True), ("yes", True), ("0", False), ("", False)):
        missing = no_browser("/nonexistent/chromium", {SKIP_ASKED: asked})
        assert missing is not None and missing.skip is skipped, asked
