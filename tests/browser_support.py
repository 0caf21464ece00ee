"""Browser tests: Debian's Chromium, headless, driven by Playwright; screenshots kept as artifacts.

Chromium comes from the system (``/usr/bin/chromium``, or ``SCIMGATE_TEST_CHROMIUM``); Playwright's
own browser downloads are never used. Without it the browser tests fail with what to install,
unless ``SCIMGATE_SKIP_BROWSER_TESTS=1`` asks to skip them. Screenshots go to
``artifacts/screenshots`` (or ``SCIMGATE_TEST_ARTIFACTS``), one per step worth seeing, and one
more when a test fails.
"""

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

CHROMIUM = os.environ.get("SCIMGATE_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("SCIMGATE_TEST_ARTIFACTS", Path(__file__).parent.parent / "artifacts")
)
SCREENSHOTS = ARTIFACTS / "screenshots"


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


SKIP_ASKED = "SCIMGATE_SKIP_BROWSER_TESTS"
"""Set (to anything but empty or 0) to skip the browser tests on a machine without Chromium."""


@dataclass(frozen=True)
class NoBrowser:
    """Why the browser tests cannot run, and whether the user asked to skip them then."""

    reason: str
    skip: bool


def no_browser(path: str, environ: Mapping[str, str]) -> NoBrowser | None:
    """None when Chromium is at ``path``; else what to tell the user."""
    if os.access(path, os.X_OK):
        return None
    if environ.get(SKIP_ASKED, "") not in ("", "0"):
        return NoBrowser(f"no Chromium at {path}; browser tests skipped as {SKIP_ASKED} asks", True)
    return NoBrowser(
        f"the browser tests need Chromium at {path}: install it (Debian: apt-get install "
        "chromium) or point SCIMGATE_TEST_CHROMIUM at one; set "
        f"{SKIP_ASKED}=1 to skip these tests instead",
        False,
    )


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    missing = no_browser(CHROMIUM, os.environ)
    if missing is not None:
        if missing.skip:
            pytest.skip(missing.reason)
        pytest.fail(missing.reason, pytrace=False)
    launched = playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    )
    yield launched
    launched.close()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


class Screenshots:
    """Numbered full-page screenshots of one test, named after it."""

    def __init__(self, test_name: str) -> None:
        self.directory = SCREENSHOTS / _slug(test_name)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.taken = 0

    def take(self, page: Page, step: str) -> Path:
        self.taken += 1
        path = self.directory / f"{self.taken:02d}-{_slug(step)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(request.node.name)


@pytest.fixture
def page(
    browser: Browser, screenshots: Screenshots, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A fresh browser context (its own cookies) at a laptop's screen size."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    failed_before = request.session.testsfailed
    yield opened
    if request.session.testsfailed > failed_before:
        screenshots.take(opened, "failure")
    context.close()
