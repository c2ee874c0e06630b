"""Browser tests: the portal in Debian's headless Chromium, driven by Playwright against pytest-django's
``live_server`` (a real HTTP server thread in this process, so ``django.core.mail.outbox`` is shared).

Each test builds its tenants itself with ``build_tenant`` on a transactional database: the live server
thread reads through its own connection, so test data must be committed to be seen.
"""

import os
from pathlib import Path

import pytest
from django.test import override_settings

# Playwright's sync API keeps an event loop running in the test thread; Django would otherwise refuse
# ORM calls from the test body (factories, assertions on rows) as "async unsafe".
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"
# Generous for a 2-core machine, short enough that a missing element fails in seconds, not minutes.
DEFAULT_TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def _media_url_while_live_server_starts():
    """settings.MEDIA_URL is None on purpose (media is never served by URL), but Django's live server
    thread wraps every request in a media-files handler built from MEDIA_URL at start-up, and with None
    it fails on every request (``urlparse(None)`` gives bytes). An absolute URL on another host makes
    that handler pass every request through, which keeps "never served by URL" true. Only the start-up
    sees this value: it is switched back as soon as the server thread is ready."""
    override = override_settings(MEDIA_URL="http://media.invalid/")
    override.enable()
    pending = [override]

    def switch_back():
        while pending:
            pending.pop().disable()

    yield switch_back
    switch_back()  # when the live server failed to start


@pytest.fixture(scope="session")
def live_server(_media_url_while_live_server_starts, live_server):
    _media_url_while_live_server_starts()
    return live_server


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--headless",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}, "locale": "en-GB"}


@pytest.fixture
def page(page):
    page.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return page


# Installed in every page before its own scripts run (Playwright's init script, which the page's CSP does
# not govern): each Content-Security-Policy violation is handed to Python through a binding.
_REPORT_VIOLATIONS = """
window.addEventListener("securitypolicyviolation", (event) => {
  window.__reportCspViolation({
    page: document.location.href,
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    source: event.sourceFile,
    line: event.lineNumber,
    sample: event.sample,
  });
}, true);
"""


@pytest.fixture(autouse=True)
def csp_violations(browser, monkeypatch):
    """Every browser test runs with the product's CSP on and fails on any violation, in any of its
    browser contexts (the page fixture's and those a test opens itself). Violations arrive as the
    securitypolicyviolation event and, for what no page script can observe, as Chromium's console
    message; the test fails at teardown with the list."""
    violations = []
    open_context = browser.new_context

    def on_console(message):
        if "Content Security Policy" in message.text:
            violations.append({"page": message.page.url if message.page else "", "console": message.text})

    def new_context(*args, **kwargs):
        context = open_context(*args, **kwargs)
        context.expose_binding("__reportCspViolation", lambda source, violation: violations.append(violation))
        context.add_init_script(_REPORT_VIOLATIONS)
        context.on("console", on_console)
        return context

    monkeypatch.setattr(browser, "new_context", new_context)
    yield violations
    assert violations == [], f"Content-Security-Policy violations: {violations}"


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR


@pytest.fixture
def sign_in(live_server):
    """Sign in through the login form (typing and a click) and wait for the page that follows."""

    def sign_in(page, email: str, password: str) -> None:
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in", exact=True).click()
        if page.url.split("?")[0].endswith("/accounts/2fa/authenticate/"):
            # A member with an authenticator app (org admins must have one): type its current code.
            from accounts.models import User
            from medilens.testing.mfa import unused_totp_code

            page.get_by_label("Authentication code").fill(unused_totp_code(User.objects.get(email__iexact=email)))
            with page.expect_navigation():
                page.get_by_role("button", name="Verify").click()

    return sign_in
