"""The results page's 3D viewer in Chromium. With WebGL (``--enable-unsafe-swiftshader``: recent headless
Chromium no longer falls back to software WebGL by itself) <model-viewer> loads the latest version's GLB from
the same-origin, audited artifact view, fires its ``load`` event and shows the model. Without WebGL the still
image stays in its place, and without script the same image shows as a plain image. The CSP and axe checks of the other
browser tests hold in all three.

Chromium 156 here still gave the suite's usual launch a (SwiftShader) WebGL context, so "without WebGL" is a
launch with ``--disable-3d-apis``; the test first checks that no WebGL context can be made.

The model is a textured box written by hand as GLB (medilens/testing/glb.py), returned by the test-only
``test_artifacts`` analyzer (medilens/testing/analyzers.py): a textured GLB is the case that could need blob:
URLs under the CSP."""

import json
import time

import pytest
from playwright.sync_api import expect

from accounts.tenancy import organization_scope
from assessments import pipeline, services
from assessments.models import ResultArtifact
from assessments.tests.portal import make_patient
from audit.models import AuditEvent
from medilens.testing.fixtures import build_tenant
from tests.browser import conftest as browser_conftest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("analysed_in_process")]

# Init script: model-viewer's load and error events (they do not bubble; a capturing listener sees them).
_RECORD_MODEL_EVENTS = """
window.__modelEvents = [];
document.addEventListener("load", (event) => {
  if (event.target.tagName === "MODEL-VIEWER") { window.__modelEvents.push("load"); }
}, true);
document.addEventListener("error", (event) => {
  if (event.target.tagName === "MODEL-VIEWER") {
    window.__modelEvents.push("error:" + (event.detail && event.detail.type));
  }
}, true);
"""


def _scan_result(tenant):
    patient = make_patient(tenant)
    with organization_scope(tenant.organization):
        assessment = services.create_assessment(
            actor=tenant.users["clinician"], organization=tenant.organization, patient=patient,
            modality="test_artifacts",
        )
        assert pipeline.run(assessment.pk) == "completed"
    return assessment


def _artifact(assessment, role):
    return ResultArtifact.objects.with_scopes_disabled().get(version__assessment=assessment, role=role)


# The one violation the viewer page causes and the policy is right to refuse: three.js's meshopt decoder,
# bundled in model-viewer, probes WebAssembly when the script loads. Refused, it leaves meshopt-compressed
# models unreadable, which MediLens never writes (see assessments.artifacts.VIEWER_POLICY).
def _is_meshopt_probe(violation) -> bool:
    return (
        violation.get("directive") == "script-src"
        and violation.get("blocked") == "wasm-eval"
        and str(violation.get("source", "")).endswith("/static/vendor/model-viewer/model-viewer.min.js")
    )


def _without_meshopt_probe(csp_violations) -> None:
    """Take the expected probe out of the list the csp_violations fixture checks at teardown (it must have
    happened: otherwise the page loaded no model-viewer, or the bundle changed)."""
    probes = [v for v in csp_violations if _is_meshopt_probe(v)]
    assert probes, "expected model-viewer's WebAssembly probe to be refused by the CSP"
    csp_violations[:] = [v for v in csp_violations if not _is_meshopt_probe(v)]


def _wait_until(page, condition: str, seconds: float = 20) -> None:
    """Poll ``condition`` in the page until it holds, with a deadline (from here rather than in the page: the
    page's main thread is busy with software WebGL)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(condition):
        assert time.monotonic() < deadline, f"not true within {seconds} s: {condition}"
        page.wait_for_timeout(200)  # lets the page run between polls; bounded by the deadline above


def _reddish_pixels(png: bytes) -> int:
    """Pixels clearly red (the test box's texture is RGB 200, 40, 40), however it is lit."""
    import io

    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return int(((red > 80) & (red > 2 * green) & (red > 2 * blue)).sum())


def _launch(browser_type, launch_args, *, add=(), drop=()):
    args = [arg for arg in launch_args["args"] if arg not in drop]
    return browser_type.launch(**{**launch_args, "args": [*args, *add]})


def _signed_in_page(context, sign_in, tenant, password):
    page = context.new_page()
    page.set_default_timeout(browser_conftest.DEFAULT_TIMEOUT_MS)
    sign_in(page, tenant.users["clinician"].email, password)
    return page


def _checked_context(browser, csp_violations, accessibility_violations, **options):
    """A context of a browser this module launched itself, with the same CSP and axe capture the suite's
    fixtures install in the session browser's contexts."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB", **options)
    context.expose_binding("__reportCspViolation", lambda source, violation: csp_violations.append(violation))
    context.add_init_script(browser_conftest._REPORT_VIOLATIONS)
    context.expose_binding("__reportAxeViolations", lambda source, found: accessibility_violations.extend(found))
    context.add_init_script(path=str(browser_conftest.AXE_SCRIPT))
    context.add_init_script(
        browser_conftest._RUN_AXE
        % {
            "impacts": json.dumps(list(browser_conftest.AXE_FAILING_IMPACTS)),
            "exclude": json.dumps(browser_conftest.AXE_EXCLUDED),
        }
    )
    context.add_init_script(_RECORD_MODEL_EVENTS)
    context.on(
        "console",
        lambda message: csp_violations.append({"console": message.text})
        if "Content Security Policy" in message.text
        else None,
    )
    return context


@pytest.mark.browser
def test_the_viewer_loads_the_model_with_webgl(
    browser_type, browser_type_launch_args, live_server, password, sign_in, csp_violations, accessibility_violations
):
    tenant = build_tenant("clinic-a")
    assessment = _scan_result(tenant)
    viewer = _artifact(assessment, "viewer")
    browser = _launch(
        browser_type, browser_type_launch_args, add=["--enable-unsafe-swiftshader"], drop=["--disable-gpu"]
    )
    try:
        context = _checked_context(browser, csp_violations, accessibility_violations)
        page = _signed_in_page(context, sign_in, tenant, password)
        with page.expect_response(lambda r: r.url.endswith(f"/artifacts/{viewer.pk}/view/")) as model_response:
            page.goto(f"{live_server.url}/assessments/{assessment.pk}/")
        assert model_response.value.status == 200
        # model-viewer renders and reveals a model only in view (an IntersectionObserver); its canvas never
        # settles for Playwright's own scrolling, which waits for a stable element.
        page.evaluate("() => document.querySelector('model-viewer').scrollIntoView()")
        _wait_until(page, "() => document.querySelector('model-viewer').loaded === true")
        # Drawn, not only parsed: model-viewer's own flag (the model revealed in view), and the box's red texture
        # in the element's pixels (the background is a pale grey, static/css/assessments.css).
        _wait_until(page, "() => document.querySelector('model-viewer').modelIsVisible === true")
        assert page.evaluate("() => window.__modelEvents") == ["load"]
        assert _reddish_pixels(page.locator("model-viewer").screenshot()) > 500
        browser_conftest.finish_accessibility_checks(page)
        context.close()
    finally:
        browser.close()
    _without_meshopt_probe(csp_violations)
    event = AuditEvent.objects.filter(action="artifact.downloaded", target_id=str(viewer.pk)).get()
    assert event.details["via"] == "portal-viewer"


@pytest.mark.browser
def test_without_webgl_the_still_image_stays(
    browser_type, browser_type_launch_args, live_server, password, sign_in, csp_violations, accessibility_violations
):
    tenant = build_tenant("clinic-a")
    assessment = _scan_result(tenant)
    still, viewer = _artifact(assessment, "image"), _artifact(assessment, "viewer")
    browser = _launch(browser_type, browser_type_launch_args, add=["--disable-3d-apis"])
    try:
        context = _checked_context(browser, csp_violations, accessibility_violations)
        page = _signed_in_page(context, sign_in, tenant, password)
        assert page.evaluate("() => document.createElement('canvas').getContext('webgl2')") is None
        fetched = []
        page.on("request", lambda request: fetched.append(request.url))
        with page.expect_response(lambda r: r.url.endswith(f"/artifacts/{still.pk}/view/")) as still_response:
            page.goto(f"{live_server.url}/assessments/{assessment.pk}/")
        assert still_response.value.status == 200
        # The still image in the viewer's place, loaded, with the reason; the model is not even fetched.
        image = page.locator(f"#viewer > img[src='/artifacts/{still.pk}/view/']")
        expect(image).to_be_visible()
        page.wait_for_function("(img) => img.complete && img.naturalWidth === 8", arg=image.element_handle())
        expect(page.get_by_text("This browser cannot show the 3D model (WebGL is unavailable)")).to_be_visible()
        expect(page.locator("model-viewer")).to_have_count(0)
        page.wait_for_load_state("load")
        assert not [url for url in fetched if url.endswith(f"/artifacts/{viewer.pk}/view/")]
        browser_conftest.finish_accessibility_checks(page)
        context.close()
    finally:
        browser.close()
    _without_meshopt_probe(csp_violations)


@pytest.mark.browser
def test_without_script_the_still_image_shows(browser, live_server, password, sign_in):
    """With script off <model-viewer> is an unknown element, and its light-DOM children render as they are:
    the poster <img> is the still image in the viewer's place (no <noscript> copy, which would show twice)."""
    tenant = build_tenant("clinic-a")
    assessment = _scan_result(tenant)
    still = _artifact(assessment, "image")
    context = browser.new_context(java_script_enabled=False)
    page = _signed_in_page(context, sign_in, tenant, password)
    with page.expect_response(lambda r: r.url.endswith(f"/artifacts/{still.pk}/view/")) as still_response:
        page.goto(f"{live_server.url}/assessments/{assessment.pk}/")
    assert still_response.value.status == 200
    assert still_response.value.headers["content-type"] == "image/png"
    image = page.locator(f"#viewer img[src='/artifacts/{still.pk}/view/']")
    expect(image).to_have_count(1)
    expect(image).to_be_visible()
    # Closed first: the suite's axe check runs at context close, in page script, which is off here.
    page.close()
    context.close()
