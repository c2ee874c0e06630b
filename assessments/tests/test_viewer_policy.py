"""The viewer page's CSP exceptions: the hash of model-viewer's shadow stylesheet, recomputed from the vendored
file (an update of the file that changes it fails here, with the new hash), and blob: for connect-src (embedded
textures); only the pages that show the viewer carry them, and nothing else is widened."""

import base64
import hashlib
import re
from pathlib import Path

import pytest
from django.conf import settings

from accounts.roles import Role
from assessments.artifacts import VIEWER_POLICY
from assessments.tests.portal import make_assessment, make_patient

BUNDLE = Path(settings.BASE_DIR) / "static" / "vendor" / "model-viewer" / "model-viewer.min.js"


def test_the_style_hash_is_that_of_the_vendored_stylesheet():
    blocks = re.findall(r"<style>(.*?)</style>", BUNDLE.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1 and "${" not in blocks[0]  # one fixed stylesheet, nothing interpolated
    digest = base64.b64encode(hashlib.sha256(blocks[0].encode("utf-8")).digest()).decode()
    assert VIEWER_POLICY == {"style-src": [f"'sha256-{digest}'"], "connect-src": ["blob:"]}


@pytest.mark.django_db
def test_only_a_page_with_the_viewer_widens_the_policy(tenant_a):
    client = tenant_a.client_for(Role.CLINICIAN)
    patient = make_patient(tenant_a)
    scan = make_assessment(tenant_a, patient, modality="test_artifacts", run=True)
    plain = make_assessment(tenant_a, patient, run=True)
    hash_source = VIEWER_POLICY["style-src"][0]
    with_viewer = client.get(f"/assessments/{scan.pk}/")["Content-Security-Policy"]
    without = client.get(f"/assessments/{plain.pk}/")["Content-Security-Policy"]
    style = next(d for d in with_viewer.split(";") if d.strip().startswith("style-src"))
    assert style.split() == ["style-src", "'self'", hash_source]
    connect = next(d for d in with_viewer.split(";") if d.strip().startswith("connect-src"))
    assert connect.split() == ["connect-src", "'self'", "blob:"]
    assert hash_source not in without and "blob:" not in without
    assert "wasm" not in with_viewer and "unsafe" not in with_viewer and "worker-src" not in with_viewer
