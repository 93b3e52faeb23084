"""A real headless Chromium (Debian's ``chromium`` package, installed by ``.ci/run`` where missing)
driven by Playwright, for the HTML report. No network: pages are opened from ``file://``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass
class Loaded:
    page: Any
    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text) of every console message
    errors: list[str] = field(default_factory=list)  # uncaught page errors
    requests: list[str] = field(default_factory=list)  # every URL the page asked for

    def problems(self) -> list[str]:
        return [f"{kind}: {text}" for kind, text in self.console if kind in ("error", "warning")] + self.errors


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:  # a failure, not a skip: the browser test is part of the suite
        pytest.fail("Chromium is not installed; .ci/run installs Debian's chromium package (apt-get install chromium)")
    return found


@contextmanager
def browser_page(path: Path, tmp_path: Path) -> Iterator[Loaded]:
    from playwright.sync_api import sync_playwright

    profile = tmp_path / "chromium-profile"
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(str(profile), executable_path=chromium(), headless=True,
                                                        args=FLAGS, viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            page.set_default_timeout(5000)
            loaded = Loaded(page)
            page.on("console", lambda m: loaded.console.append((m.type, m.text)))
            page.on("pageerror", lambda e: loaded.errors.append(str(e)))
            page.on("request", lambda r: loaded.requests.append(r.url))
            page.goto(path.resolve().as_uri(), wait_until="load")
            yield loaded
        finally:
            context.close()
