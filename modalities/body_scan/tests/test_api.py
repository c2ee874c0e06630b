"""Through the API and the real pipeline (the session's PostgreSQL and S3 server): a bad file is a 400 with nothing
stored, a good one is stored under its detected format and analyses to its measurements, and a figure of absurd
size fails with a reason a clinician can read (never a 5xx)."""

from __future__ import annotations

import json
import struct

import pytest
import trimesh
from django_scopes import scopes_disabled

from . import shapes

pytestmark = pytest.mark.django_db


def _create(tenant, patient, files, inputs=None):
    from assessments.tests.helpers_api import multipart_create

    data = multipart_create(patient, modality="body_scan", inputs=inputs)
    return tenant.api("clinician").post("/api/v1/assessments/", {**data, "files": files}, format="multipart")


def _upload(name, data, content_type="application/octet-stream"):
    from assessments.tests.helpers_api import upload

    return upload(name, data, content_type)


def _run(tenant, assessment_id):
    from accounts.tenancy import organization_scope
    from assessments import pipeline
    from assessments.models import Assessment

    with organization_scope(tenant.organization):
        outcome = pipeline.run(assessment_id)
        return outcome, Assessment.objects.get(pk=assessment_id)


def _external_glb() -> bytes:
    data = shapes.body().export(file_type="glb")
    length = struct.unpack_from("<I", data, 12)[0]
    document = json.loads(data[20 : 20 + length])
    document["buffers"][0]["uri"] = "https://example.org/body.bin"
    text = json.dumps(document).encode()
    text += b" " * ((-len(text)) % 4)
    binary = data[20 + length :]
    body = struct.pack("<II", len(text), 0x4E4F534A) + text + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


BAD = {
    "not a mesh": (lambda: b"name: Alice Example\nmrn: 123\n" * 50, "not a 3D mesh"),
    "point cloud": (lambda: trimesh.PointCloud(shapes.body().vertices).export(file_type="ply"), "no faces"),
    "external reference": (_external_glb, "outside itself"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_file_is_a_400_and_nothing_is_stored(case, tenant_a, s3_server, s3_bucket):
    from assessments.tests.helpers_api import assert_error, make_patient, nothing_stored

    build, message = BAD[case]
    patient = make_patient(tenant_a)
    with nothing_stored(s3_server, s3_bucket):
        response = _create(tenant_a, patient, [_upload("scan.glb", build())])
    error = assert_error(response, 400, field="files")
    assert message in " ".join(error["fields"]["files"]), error


def test_an_oversize_scan_is_a_400(tenant_a, s3_server, s3_bucket, settings):
    from assessments.tests.helpers_api import assert_error, make_patient, nothing_stored

    data = shapes.body().export(file_type="ply")
    settings.BODY_SCAN_MAX_BYTES = len(data) - 1
    patient = make_patient(tenant_a)
    with nothing_stored(s3_server, s3_bucket):
        response = _create(tenant_a, patient, [_upload("scan.ply", data)])
    assert "at most" in " ".join(assert_error(response, 400, field="files")["fields"]["files"])


def test_a_ply_named_stl_is_stored_as_ply_and_analyses_with_its_photo(tenant_a, s3_server, s3_bucket):
    from assessments.models import UploadedFile
    from assessments.tests.helpers_api import make_patient

    from .test_inputs import jpeg

    scan = shapes.body().export(file_type="ply")
    files = [_upload("scan.stl", scan), _upload("front.jpg", jpeg(), "image/jpeg")]
    response = _create(tenant_a, make_patient(tenant_a), files, inputs={"up_axis": "z"})
    assert response.status_code == 201, response.content
    assessment_id = response.json()["id"]
    with scopes_disabled():
        kinds = sorted(UploadedFile.objects.filter(assessment_id=assessment_id).values_list("display_name", flat=True))
    assert sorted(name.rsplit(".", 1)[1] for name in kinds) == ["jpg", "ply"]
    outcome, assessment = _run(tenant_a, assessment_id)
    assert outcome == "completed", assessment.failure_reason
    waist = shapes.ellipse_perimeter(shapes.TRUNK_A, shapes.TRUNK_B) * 100
    with scopes_disabled():
        values = {b.name: float(b.value) for b in assessment.biomarkers.all()}
    assert abs(values["waist_circumference"] - waist) <= 0.02 * waist
    names = [item["name"] for item in assessment.results["details"]["slices"]]
    assert names == ["waist", "narrowest", "hip"]
    assert any("1 photo(s)" in note for note in assessment.results["notes"])


def test_a_figure_two_kilometres_tall_fails_with_the_reason(tenant_a, s3_server, s3_bucket):
    from assessments.tests.helpers_api import make_patient

    figure = shapes.body()
    figure.apply_scale(1000)  # millimetres, declared as metres
    response = _create(tenant_a, make_patient(tenant_a), [_upload("scan.ply", figure.export(file_type="ply"))],
                       inputs={"units": "m", "up_axis": "z"})  # fmt: skip
    assert response.status_code == 201, response.content
    outcome, assessment = _run(tenant_a, response.json()["id"])
    assert outcome == "failed"
    assert "1,690 m tall" in assessment.failure_reason and "units" in assessment.failure_reason


def test_a_completed_scan_reads_on_the_portal_page_and_in_the_api(tenant_a, s3_server, s3_bucket):
    from accounts.models import Role
    from assessments.tests.helpers_api import make_patient

    patient = make_patient(tenant_a)
    response = _create(tenant_a, patient, [_upload("scan.ply", shapes.body().export(file_type="ply"))],
                       inputs={"up_axis": "z"})  # fmt: skip
    outcome, assessment = _run(tenant_a, response.json()["id"])
    assert outcome == "completed", assessment.failure_reason
    page = tenant_a.client_for(Role.CLINICIAN).get(f"/assessments/{assessment.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    for shown in ("Waist-to-height ratio", "Waist circumference (WHO site)", "Hip circumference", "ratio"):
        assert shown in text, shown
    body = tenant_a.api("read_only").get(f"/api/v1/assessments/{assessment.pk}/").json()
    assert body["results"]["score"]["label"] == "Waist-to-height ratio (WHtR)"
    assert body["results"]["score"]["unit"] == "ratio"
    whtr = next(item for item in body["biomarkers"] if item["name"] == "waist_to_height_ratio")
    assert whtr["flag"] == "intermediate" and body["risk_level"] in ("intermediate", "high")
