"""End-to-end fixtures: a real server (watchparty.serve, as ./dev serve runs it, in a subprocess)
and a real browser (Chromium through Playwright).

The server runs as in production: DEBUG off, static files collected and served by WhiteNoise, the
embedded mongomock database and in-memory channel layer (one process, so that is enough), and Django's tables in a throwaway SQLite file. Its
settings module, tests/e2e/settings.py, only moves STATIC_ROOT to a temporary directory, adds the
test video under /static/e2e/ and picks a fast password hasher.

Without Playwright or Chromium the tests skip with the reason, except under CI=true, where they
fail. Chromium is Debian's (`apt-get install -y chromium`); `playwright install` is never needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import free_port, unavailable

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts"
PASSWORD = "Watch-Together-2026!"
SERVER_START_TIMEOUT_S = 30
EXPECT_TIMEOUT_MS = 10_000
CHAT_SEND_LIMIT = 40
CHAT_SEND_WINDOW_S = 2
# One older page per user per party in any 5 s, so that a test can go past it with a second tab.
HISTORY_LIMIT = 1
HISTORY_WINDOW_S = 5
# Three catch-ups per user per party in any 5 s (a reconnect sends one).
RESUME_LIMIT = 3
RESUME_WINDOW_S = 5


def _server_env(tmp: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"MONGODB_URI", "REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "EMBEDDED_DB_PATH"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.e2e.settings",
            "E2E_STATIC_ROOT": str(tmp / "static"),
            "DEBUG": "false",
            "SECRET_KEY": f"e2e-{uuid.uuid4().hex}{uuid.uuid4().hex}",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
            "EMBEDDED_DB_PATH": str(tmp / "embedded-db.sqlite3"),  # never the developer's data
            # The tests send dozens of messages; the default (5 in any 5 s) would make them wait.
            # test_rate_limited_sends_are_retried goes past this limit on purpose.
            "CHAT_SEND_RATE_LIMIT_COUNT": str(CHAT_SEND_LIMIT),
            "CHAT_SEND_RATE_LIMIT_SECONDS": str(CHAT_SEND_WINDOW_S),
            "CHAT_SEND_USER_RATE_LIMIT_COUNT": str(CHAT_SEND_LIMIT),
            "CHAT_SEND_USER_RATE_LIMIT_SECONDS": str(CHAT_SEND_WINDOW_S),
            # test_a_rate_limited_older_page_says_so_and_loads_on_retry goes past this one.
            "HISTORY_RATE_LIMIT_COUNT": str(HISTORY_LIMIT),
            "HISTORY_RATE_LIMIT_SECONDS": str(HISTORY_WINDOW_S),
            # test_a_rate_limited_resume_does_not_jam_older_pages goes past this one.
            "RESUME_RATE_LIMIT_COUNT": str(RESUME_LIMIT),
            "RESUME_RATE_LIMIT_SECONDS": str(RESUME_WINDOW_S),
            # Every browser signs up and logs in from 127.0.0.1: the defaults per address would refuse them.
            "SIGNUP_RATE_LIMIT_COUNT": "100000",
            "LOGIN_RATE_LIMIT_IP_COUNT": "100000",
            "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        pytest.fail(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}", pytrace=False)


# Package scope: the server and the browser stop when the e2e tests are done, before the rest
# of the suite (whose async tests must not share a thread with a live Playwright loop) goes on.
@pytest.fixture(scope="package")
def server_env(tmp_path_factory):
    """The server's environment (its SQLite file among it): manage.py commands run against it."""
    tmp = tmp_path_factory.mktemp("e2e-server")
    return tmp, _server_env(tmp)


@pytest.fixture(scope="package")
def server(server_env):
    """Base URL of a running server (migrated database, collected static files)."""
    tmp, env = server_env
    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage(env, "collectstatic", "--noinput", "-v", "0")  # also proves collectstatic works
    port = free_port()
    log_path = tmp / "server.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "watchparty.serve", f"127.0.0.1:{port}"],  # as ./dev serve and the images
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"The server exited with {process.returncode}:\n{log_path.read_text()}", pytrace=False)
            try:
                with urllib.request.urlopen(f"{base_url}/health/live", timeout=1) as response:
                    if response.status == 200 and json.load(response).get("status") == "ok":
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"The server did not answer /health/live:\n{log_path.read_text()}", pytrace=False)
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="package")
def browser():
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        unavailable(
            "Playwright is not installed (pip install playwright; the browser is Debian's chromium)",
            service="playwright",
        )
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)", service="chromium")
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    playwright = sync_playwright().start()
    try:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        except PlaywrightError as exc:
            unavailable(f"Chromium at {CHROMIUM} did not start: {exc}", service="chromium")
        yield browser
        browser.close()
    finally:
        playwright.stop()


@dataclass
class Person:
    """A browser context (its own cookies) with one page, and what the page complained about."""

    username: str
    display_name: str
    context: object
    page: object
    base_url: str
    csp_violations: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def goto(self, path: str):
        return self.page.goto(self.base_url + path)

    def csrf_token(self) -> str:
        for cookie in self.context.cookies(self.base_url):
            if cookie["name"] == "csrftoken":
                return cookie["value"]
        return ""

    def api(self, method: str, path: str, data=None):
        """An API call with this person's session (and the CSRF header, as the page sends it)."""
        headers = {"X-CSRFToken": self.csrf_token(), "Referer": self.base_url + "/"}
        return self.context.request.fetch(self.base_url + path, method=method, data=data, headers=headers)


@pytest.fixture
def people(browser, server):
    """people("alice") signs a new person up through the sign-up page and returns the Person."""
    created: list[Person] = []

    def make(name: str, display_name: str | None = None) -> Person:
        context = browser.new_context(base_url=server, viewport={"width": 1360, "height": 860})
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        page = context.new_page()
        person = Person(
            username=f"{name}_{uuid.uuid4().hex[:8]}",
            display_name=display_name or name.capitalize(),
            context=context,
            page=page,
            base_url=server,
        )
        page.on(
            "console",
            lambda message: (
                person.csp_violations.append(message.text)
                if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text
                else None
            ),
        )
        page.on("pageerror", lambda error: person.page_errors.append(str(error)))

        def on_dialog(dialog):
            person.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        created.append(person)
        sign_up(person)
        return person

    yield make
    try:
        for person in created:
            assert not person.csp_violations, f"CSP violations for {person.username}: {person.csp_violations}"
            assert not person.page_errors, f"Script errors for {person.username}: {person.page_errors}"
            assert not person.dialogs, f"Dialogs opened for {person.username}: {person.dialogs}"
    finally:
        for person in created:
            person.context.close()


def sign_up(person: Person) -> None:
    from playwright.sync_api import expect

    page = person.page
    person.goto("/accounts/signup/")
    page.locator("#id_username").fill(person.username)
    page.locator("#id_display_name").fill(person.display_name)
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(person.base_url + "/")
    expect(page.locator(".whoami")).to_have_text(person.display_name)


@pytest.fixture
def make_staff(server, server_env):
    """make_staff(person) gives a signed-up person the admin (staff) flag."""

    def make(person: Person) -> None:
        code = (
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.filter(username={person.username!r}).update(is_staff=True, is_superuser=True)"
        )
        _manage(server_env[1], "shell", "-c", code)

    return make


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
