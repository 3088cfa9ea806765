"""A real headless Chromium for the page tests: Debian's package, driven by Playwright.

``make test`` installs the package (``/usr/bin/chromium``); Playwright never downloads
a browser of its own here. Without the browser these tests fail: they are the only
check that the pages work in one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("PERRON_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
#: Set to a folder to write the screenshots of docs/ui.md there.
SCREENSHOTS = os.environ.get("PERRON_UI_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium package "
            "(or set PERRON_CHROMIUM to a Chromium executable)."
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    """Keep the page as docs/img/<name>.png when screenshots are asked for."""
    if SCREENSHOTS:
        folder = Path(SCREENSHOTS)
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)
