"""Opening a report in real headless Chromium (Debian's package, never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    """Path of the system Chromium; skips the test when it is not installed."""
    path = (
        os.environ.get("REPORTGEN_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    if not path:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does)")
    return path


@dataclass
class Visit:
    """What happened while a page was open."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)
    broken_links: list[str] = field(default_factory=list)
    title: str = ""
    hooks: list[str] = field(default_factory=list)
    text: str = ""


HOOKS = """
window.__pwned = [];
for (const name of ['alert', 'confirm', 'prompt', 'xss', 'pwn', 'evil']) {
  window[name] = function () { window.__pwned.push(name + ':' + Array.from(arguments).join(',')); };
}
"""


def visit(page_path: Path, screenshot: Path | None = None, wait_ms: int = 5000) -> Visit:
    """Open ``page_path`` from disk and record errors, requests, charts and links."""
    from playwright.sync_api import sync_playwright

    seen = Visit()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.add_init_script(HOOKS)
            page.on(
                "console",
                lambda m: seen.console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: seen.page_errors.append(str(e)))
            page.on("request", lambda r: seen.requests.append(r.url))
            page.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
            page.goto(page_path.resolve().as_uri())
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-spec]')].every("
                "e => e.getAttribute('data-state') !== 'pending')",
                timeout=wait_ms * 6,
            )
            page.wait_for_timeout(300)
            seen.charts = page.eval_on_selector_all(
                "[data-spec]",
                """els => els.map(e => ({id: e.id, state: e.getAttribute('data-state'),
                    marks: e.querySelectorAll('svg path, svg line, svg rect, svg circle, svg text, canvas').length}))""",
            )
            seen.broken_links = page.eval_on_selector_all(
                "a[href^='#']",
                "els => els.map(a => a.getAttribute('href').slice(1))"
                ".filter(id => id && !document.getElementById(id))",
            )
            seen.title = page.title()
            seen.hooks = page.evaluate("window.__pwned")
            seen.text = page.inner_text("body")
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=False)
        finally:
            browser.close()
    return seen


def offsite(requests: list[str]) -> list[str]:
    """Requests to anything but the page itself and inline data."""
    return [r for r in requests if not r.startswith(("file:", "data:", "blob:"))]
