"""The accessibility check itself: axe-core (vendored) runs on every page a browser test visits and
reports serious and critical violations, and none of lesser impact."""

import pytest


def finish_accessibility_checks(page):
    # The conftest's check, run now rather than at the end of the test.
    page.evaluate("() => window.__checkAccessibility()")


CLEAN = (
    '<html lang="en"><head><title>t</title></head><body><main><h1>Fine</h1>'
    '<img alt="A dot" src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main></body></html>'
)


@pytest.mark.browser
def test_axe_reports_a_critical_violation_on_a_page_that_has_one(page, accessibility_violations):
    # An image without alternative text (axe: image-alt, critical) and a heading-order skip (moderate).
    page.set_content('<html lang="en"><head><title>t</title></head><body><main><h1>Probe</h1><h4>skip</h4>'
                     '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main></body></html>')  # fmt: skip
    finish_accessibility_checks(page)
    rules = {violation["rule"] for violation in accessibility_violations}
    assert "image-alt" in rules
    assert "heading-order" not in rules, "only serious and critical violations fail a test"
    # Seen and checked: not a failure of this test (a clean page, so the check at teardown finds nothing).
    page.set_content(CLEAN)
    finish_accessibility_checks(page)
    accessibility_violations.clear()


@pytest.mark.browser
def test_a_clean_page_reports_nothing(page, accessibility_violations):
    page.set_content(CLEAN)
    finish_accessibility_checks(page)
    assert accessibility_violations == []
