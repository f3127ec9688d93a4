"""The page tests' harness: the real app served on a local port, Chromium driven by Playwright,
an axe-core accessibility check and full-page screenshots.

The live server is built the way tests/conftest.py builds apps (same `config`/`rt` fixtures), so
it runs on both backends. On the embedded queue it starts the embedded worker like `greenlight
serve`; on Redis there is no embedded worker, and tests that need jobs call `live_server.run_jobs()`,
which works the queues in the test's thread as the other Redis tests do (tests.conftest.drain).

Without Chromium or Playwright the browser tests skip with the reason, except under CI=true
(`.ci/run`), where they fail: a CI pass must not go green without having run them.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from app.config import setting
from tests.conftest import drain

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
# axe-core as shipped inside the axe-playwright-python wheel (no network, pinned with the wheel).
AXE_PACKAGE = "axe_playwright_python"
BLOCKING_IMPACTS = ("serious", "critical")


def _unavailable(reason: str):
    if (setting("CI") or "").lower() in ("true", "1", "yes"):
        pytest.fail(f"{reason} (CI=true: the page tests must run here)")
    pytest.skip(reason)


@dataclass
class LiveServer:
    url: str
    rt: Any
    app: Any

    def run_jobs(self) -> None:
        """Work queued jobs now when no embedded worker runs them (the Redis backend)."""
        if "greenlight.worker" not in self.app.extensions:
            drain(self.rt)


@pytest.fixture
def live_server(rt):
    from app.factory import create_app

    flask_app = create_app(start_worker=rt.queues.embedded)
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", rt=rt, app=flask_app)
    finally:
        server.shutdown()
        thread.join(10)
        worker = flask_app.extensions.get("greenlight.worker")
        if worker is not None:
            worker.stop()


@pytest.fixture(scope="session")
def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: pip install -e '.[dev]'")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(_playwright):
    chromium = Path(setting("GL_TEST_CHROMIUM"))
    if not chromium.is_file():
        _unavailable(f"no Chromium at {chromium}: apt-get install chromium (or set GL_TEST_CHROMIUM)")
    browser = _playwright.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
    yield browser
    browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser profile (no cookies) on the live server. Console errors are collected in
    `page.console_errors`: a CSP violation shows up there."""
    context = browser.new_context(base_url=live_server.url)
    pg = context.new_page()
    pg.console_errors = []
    pg.on("console", lambda msg: pg.console_errors.append(msg.text) if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: pg.console_errors.append(str(exc)))
    yield pg
    context.close()


def _axe_source() -> str:
    import importlib.util
    spec = importlib.util.find_spec(AXE_PACKAGE)
    if spec is None or spec.origin is None:
        _unavailable("axe-playwright-python is not installed: pip install -e '.[dev]'")
    return (Path(spec.origin).parent / "axe.min.js").read_text(encoding="utf-8")


def check_accessibility(page) -> list[dict[str, Any]]:
    """Run axe-core on the page as it stands and fail on any serious or critical violation
    (printed with the offending elements). Returns every violation found.

    axe is evaluated through the DevTools protocol (page.evaluate), which the page's
    Content-Security-Policy does not govern, so the page is checked under its real CSP; a <script>
    tag (page.add_script_tag) would be refused by `script-src 'self'`."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    violations = results["violations"]
    blocking = [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]
    for v in violations:
        targets = [node["target"] for node in v["nodes"]]
        print(f"axe {v['impact']}: {v['id']}: {v['help']} at {json.dumps(targets)}")
    assert not blocking, f"{page.url}: {[(v['id'], v['impact']) for v in blocking]}"
    return violations


def screenshot(page, name: str) -> Path:
    """A full-page PNG under tests/review_ui/screenshots/ (git-ignored), for people to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page, email: str, password: str, next_path: str | None = None) -> None:
    page.goto("/login" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
