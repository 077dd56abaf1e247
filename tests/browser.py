"""Open a page in headless Chromium with every network request refused, and record what it asked for."""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def require_browser():
    """Skip a browser test where Chromium or playwright is missing; under CI (CI=true), fail it:
    there the page tests must run."""
    missing = None
    if CHROMIUM is None:
        missing = "headless Chromium is not installed (Debian package chromium; .ci/run installs it)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "playwright is not installed (dev extra)"
    if missing and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{missing}; under CI the browser tests must run")
    if missing:
        pytest.skip(missing)


@contextlib.contextmanager
def offline_page(width: int = 1200, height: int = 900, touch: bool = False):
    """(page, seen) in headless Chromium where every non-file request is aborted and recorded in
    seen["external"]; failed requests, console errors and page errors are recorded too. `touch`: a
    phone's page (touch events, mobile viewport)."""
    require_browser()
    from playwright.sync_api import sync_playwright
    seen = {"requests": [], "failed": [], "external": [], "console_errors": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": width, "height": height}, has_touch=touch, is_mobile=touch)

        def route(r):
            if r.request.url.startswith(("file:", "data:", "blob:")):
                r.continue_()
            else:
                seen["external"].append(r.request.url)
                r.abort()
        page.route("**/*", route)
        page.on("request", lambda r: seen["requests"].append(r.url))
        page.on("requestfailed", lambda r: seen["failed"].append(r.url))
        page.on("console", lambda m: m.type == "error" and seen["console_errors"].append(m.text))
        page.on("pageerror", lambda e: seen["console_errors"].append(str(e)))
        try:
            yield page, seen
        finally:
            browser.close()


GRAPHICS = ("Array.from(document.querySelectorAll('svg, canvas')).filter(e => "
            "(e.tagName.toLowerCase() === 'canvas' && e.width > 0) || e.querySelectorAll('path, rect, text').length > 5)"
            ".length")


def open_offline(page_path: Path, screenshot: Path, wait_ms: int = 300, graphics: int = 0) -> dict:
    """Load file://page_path; non-file requests are aborted. Waits until every image has loaded (or
    failed) and at least `graphics` drawn svg/canvas elements are there, however slow the machine
    (up to two minutes, then the caller's assertions say what is missing), then `wait_ms` more for
    late console errors. Returns requests, failures, external ones, images and graphics seen."""
    with offline_page() as (page, seen):
        page.goto(page_path.resolve().as_uri(), wait_until="load")
        try:
            page.wait_for_function(f"Array.from(document.images).every(i => i.complete) && ({GRAPHICS}) >= {graphics}",
                                   timeout=120_000)
        except Exception:  # playwright's TimeoutError: the assertions below report what is missing
            pass
        page.wait_for_timeout(wait_ms)
        seen["images_loaded"] = page.evaluate(
            "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])")
        seen["svg_or_canvas_with_content"] = page.evaluate(GRAPHICS)
        page.screenshot(path=str(screenshot), full_page=True)
    return seen


def is_blank(png: Path) -> bool:
    import numpy as np
    from PIL import Image
    pixels = np.asarray(Image.open(png).convert("L"), dtype=np.float64)
    return pixels.std() < 2.0
