"""Browser tests: the portal in Debian's headless Chromium, driven by Playwright against pytest-django's
``live_server`` (a real HTTP server thread in this process, so ``django.core.mail.outbox`` is shared).

Each test builds its tenants itself with ``build_tenant`` on a transactional database: the live server
thread reads through its own connection, so test data must be committed to be seen.
"""

import json
import os
from pathlib import Path

import pytest
from django.test import override_settings
from playwright.sync_api import expect

# Playwright's sync API keeps an event loop running in the test thread; Django would otherwise refuse
# ORM calls from the test body (factories, assertions on rows) as "async unsafe".
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = ROOT / "test-results" / "screenshots"
AXE_SCRIPT = ROOT / "static" / "vendor" / "axe-core" / "axe.min.js"
# What fails a test: WCAG problems that stop or seriously hinder someone (axe's own impact levels).
AXE_FAILING_IMPACTS = ("serious", "critical")
# Parts of pages that are not ours to fix, each with why. Django admin's autocomplete widget is the Select2
# library Django ships (platform administration only): its search box has no label and its combobox lacks
# required ARIA attributes. Everything else on admin pages is checked (and fixed: static/css/admin.css).
AXE_EXCLUDED = [[".select2-container"]]
# Generous for a 2-core machine, short enough that a missing element fails in seconds, not minutes.
DEFAULT_TIMEOUT_MS = 10_000
# expect() assertions too (Playwright's default is 5 s): each page now also runs axe-core as it loads, and
# Redoc's first render of the whole schema can take longer than 5 s on a busy machine.
expect.set_options(timeout=DEFAULT_TIMEOUT_MS)


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
    yield page
    # The last page's accessibility check may still be running: wait for it before the context closes.
    finish_accessibility_checks(page)


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


# Also an init script, so also outside the page's CSP: axe-core (vendored from npm) runs on every page once it
# has loaded, and hands its serious and critical violations to Python. Runs are chained: axe refuses to
# start while another run is going on in the same page. No preload: axe would re-parse stylesheets it cannot
# read (an @import) by writing them into <style> elements, which the page's CSP rightly blocks.
_RUN_AXE = """
(() => {
  if (window.top !== window) { return; }
  const failing = %(impacts)s;
  window.__axeChecks = Promise.resolve();
  const check = () => {
    const options = {resultTypes: ["violations"], preload: false};
    window.__axeChecks = window.__axeChecks.then(() => window.axe.run({exclude: %(exclude)s}, options))
      .then((results) => {
        const violations = results.violations.filter((v) => failing.includes(v.impact)).map((v) => ({
          page: document.location.href, rule: v.id, impact: v.impact, help: v.help,
          nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
        }));
        if (violations.length) { window.__reportAxeViolations(violations); }
      })
      .catch((error) => window.__reportAxeViolations([{page: document.location.href, rule: "axe-error",
                                                         help: String(error)}]));
    return window.__axeChecks;
  };
  window.__checkAccessibility = check;
  window.addEventListener("load", () => { check(); });
})();
"""


def finish_accessibility_checks(page) -> None:
    """Wait for the current page's axe run (and run it once more on what the page shows now: htmx may
    have swapped parts in since it loaded). A page already closed or navigating has nothing to wait for."""
    try:
        if not page.is_closed():
            page.evaluate("() => window.__checkAccessibility ? window.__checkAccessibility() : null")
    except Exception as error:  # noqa: BLE001 - a closed page or a navigation in flight: nothing to check
        if "closed" not in str(error) and "navigat" not in str(error) and "destroyed" not in str(error):
            raise


@pytest.fixture(autouse=True)
def accessibility_violations(browser, monkeypatch):
    """Every page every browser test visits is checked with axe-core; a serious or critical violation fails
    the test at teardown, with the page, the rule and the elements."""
    violations = []
    open_context = browser.new_context

    def new_context(*args, **kwargs):
        context = open_context(*args, **kwargs)
        context.expose_binding("__reportAxeViolations", lambda source, found: violations.extend(found))
        context.add_init_script(path=str(AXE_SCRIPT))
        context.add_init_script(
            _RUN_AXE % {"impacts": json.dumps(list(AXE_FAILING_IMPACTS)), "exclude": json.dumps(AXE_EXCLUDED)}
        )
        original_close = context.close

        def close(*close_args, **close_kwargs):
            for open_page in context.pages:
                finish_accessibility_checks(open_page)
            return original_close(*close_args, **close_kwargs)

        context.close = close
        return context

    monkeypatch.setattr(browser, "new_context", new_context)
    yield violations
    # A page checked twice (on load, then again at the end) reports the same violation twice: once is enough.
    unique = {(v["page"], v["rule"], str(v.get("nodes"))): v for v in violations}.values()
    assert not violations, "axe-core found serious or critical accessibility violations:\n" + "\n".join(
        f"  {v['page']}: {v['rule']} ({v.get('impact')}): {v['help']} at {v.get('nodes')}" for v in unique
    )


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
            # Fail here, naming the cause, rather than at the test's next step on a sign-in page.
            assert not page.url.split("?")[0].endswith("/accounts/2fa/authenticate/"), "the second step was refused"

    return sign_in
