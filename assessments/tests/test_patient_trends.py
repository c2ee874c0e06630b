"""Trends on the patient page (issue 14, item 5): the measured date beside the requested date, a biomarker
picker grouped by modality with quality-control metrics apart, up to three markers on one time axis with
their reference bands, a narrow layout for phones, and a fixed number of queries."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import Role
from accounts.tenancy import organization_scope
from assessments.models import Assessment, BiomarkerValue
from assessments.result_services import biomarker_value
from modalities import registry

from .portal import make_assessment, make_patient, text

pytestmark = pytest.mark.django_db


def _ecg(tenant, patient, values: dict, *, days_ago: int):
    """A completed ECG assessment with these values, measured ``days_ago`` (rows as the worker stores them)."""
    assessment = make_assessment(tenant, patient)
    catalogue = registry.get("cardiology").modality.catalogue
    measured = timezone.now() - timedelta(days=days_ago)
    with organization_scope(tenant.organization):
        Assessment.objects.filter(pk=assessment.pk).update(modality="cardiology", status="completed", inputs={},
                                                           completed_at=measured)  # fmt: skip
        assessment.refresh_from_db()
        BiomarkerValue.objects.bulk_create(
            biomarker_value(catalogue[name], value, assessment=assessment, measured_at=measured)
            for name, value in values.items()
        )
    return assessment


def _optgroups(body: str) -> list[tuple[str, list[str]]]:
    select = re.search(r'<select id="biomarker-1".*?</select>', body, re.S).group(0)
    return [
        (label, re.findall(r"<option [^>]*>([^<]+)</option>", options))
        for label, options in re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', select, re.S)
    ]


@pytest.fixture
def patient_with_history(tenant_a):
    patient = make_patient(tenant_a, "TR-1")
    make_assessment(tenant_a, patient, run=True)  # a cardiovascular-risk panel, measured today
    _ecg(tenant_a, patient, {"heart_rate": 72, "qtc_bazett": 430, "ecg_signal_quality": 0.9}, days_ago=40)
    _ecg(tenant_a, patient, {"heart_rate": 88, "qtc_bazett": 470, "ecg_signal_quality": 0.8}, days_ago=10)
    return patient


def test_the_picker_groups_by_modality_with_quality_control_apart(tenant_a, patient_with_history):
    body = tenant_a.client_for(Role.CLINICIAN).get(f"/patients/{patient_with_history.pk}/").content.decode()
    groups = _optgroups(body)
    labels = [label for label, _ in groups]
    assert labels[-1].endswith("quality control") and "ECG signal quality" in groups[-1][1]
    clinical = dict(groups[:-1])
    assert len(clinical) == 2  # the ECG and the cardiovascular-risk panel
    ecg = next(options for label, options in clinical.items() if "Heart rate" in options)
    assert ecg == sorted(ecg, key=str.lower) and "ECG signal quality" not in ecg
    risk = next(options for label, options in clinical.items() if "Heart rate" not in options)
    assert "Systolic blood pressure" in risk and "10-year ASCVD risk (PCE)" in risk


def test_three_markers_share_one_time_axis_each_with_its_band(tenant_a, patient_with_history):
    client = tenant_a.client_for(Role.CLINICIAN)
    response = client.get(f"/patients/{patient_with_history.pk}/",
                          {"biomarker": ["heart_rate", "qtc_bazett", "systolic_bp"]})  # fmt: skip
    assert response.status_code == 200
    body = response.content.decode()
    wide = re.search(r'<svg class="trend-chart trend-chart-wide".*?</svg>', body, re.S).group(0)
    panels = re.findall(r'<g class="trend-panel">.*?</g>', wide, re.S)
    assert len(panels) == 3
    assert "Heart rate (bpm)" in panels[0] and "QTc (Bazett) (ms)" in panels[1]
    assert panels[0].count("<circle") == 2 and panels[2].count("<circle") == 1
    # Each panel shades its own reference range (heart rate and QTc have one in the catalogue).
    assert all('fill="#e5f4ea"' in panel for panel in panels[:2])
    assert ">88</text>" in panels[0] and ">470</text>" in panels[1]
    # The three selects keep the choice.
    for slot, name in enumerate(["heart_rate", "qtc_bazett", "systolic_bp"], start=1):
        select = re.search(rf'<select id="biomarker-{slot}".*?</select>', body, re.S).group(0)
        assert re.findall(r'<option value="([^"]*)" selected>', select) == [name]
    # The narrow layout draws the same panels for phones.
    narrow = re.search(r'<svg class="trend-chart trend-chart-narrow" viewBox="0 0 340 \d+".*?</svg>', body, re.S)
    assert narrow and len(re.findall(r'<g class="trend-panel">', narrow.group(0))) == 3


def test_a_fourth_marker_or_an_unmeasured_one_is_an_inline_message(tenant_a, patient_with_history):
    client = tenant_a.client_for(Role.CLINICIAN)
    url = f"/patients/{patient_with_history.pk}/"
    four = client.get(url, {"biomarker": ["heart_rate", "qtc_bazett", "systolic_bp", "hdl_cholesterol"]})
    assert four.status_code == 400
    assert "Up to 3 biomarkers can share the chart." in text(four)
    assert len(re.findall(r'<g class="trend-panel">', four.content.decode())) == 2 * 3  # both layouts
    other = client.get(url, {"biomarker": ["heart_rate", "<b>x</b>"]})
    assert other.status_code == 400 and "“<b>x</b>” has not been measured for this patient." in text(other)
    assert "<b>x</b>" not in other.content.decode()  # escaped


def test_the_measured_date_is_shown_beside_the_requested_date(tenant_a, patient_with_history):
    client = tenant_a.client_for(Role.CLINICIAN)
    body = client.get(f"/patients/{patient_with_history.pk}/").content.decode()
    forty_days_ago = timezone.localtime(timezone.now() - timedelta(days=40)).strftime("%-d %b %Y")
    requested_today = timezone.localtime().strftime("%-d %b %Y")
    rows = re.findall(r"<tr>\s*<td><time[^>]*>([^<]+)</time></td>\s*<td>(?:<time[^>]*>)?([^<]+)", body)
    assert (requested_today, forty_days_ago) in [(r.split(",")[0], m) for r, m in rows]
    with organization_scope(tenant_a.organization):
        ecg = Assessment.objects.filter(patient=patient_with_history, modality="cardiology").order_by("created_at")[0]
    header = re.search(r'<div class="page-header">.*?</div>', client.get(f"/assessments/{ecg.pk}/").content.decode(),
                       re.S).group(0)  # fmt: skip
    assert "measured" in header and forty_days_ago in " ".join(re.sub("<[^>]+>", " ", header).split())


def test_the_patient_page_runs_the_same_queries_for_few_or_many_results(tenant_a, django_assert_max_num_queries):
    patient = make_patient(tenant_a, "TR-Q")
    _ecg(tenant_a, patient, {"heart_rate": 70, "qtc_bazett": 420, "ecg_signal_quality": 0.9}, days_ago=5)
    client = tenant_a.client_for(Role.CLINICIAN)
    url = f"/patients/{patient.pk}/"
    params = {"biomarker": ["heart_rate", "qtc_bazett", "ecg_signal_quality"]}
    client.get(url, params)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url, params).status_code == 200
    for day in range(6, 30):
        _ecg(tenant_a, patient, {"heart_rate": 60 + day, "qtc_bazett": 400 + day, "ecg_signal_quality": 0.9},
             days_ago=day)  # fmt: skip
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url, params)
    assert response.status_code == 200
    charts = re.findall(r'<svg class="trend-chart.*?</svg>', response.content.decode(), re.S)
    assert sum(chart.count("<circle") for chart in charts) == 2 * 3 * 25  # both layouts, three panels


def _biomarker_cells(response) -> dict[str, str]:
    """Biomarker label -> its "Change since last" cell text."""
    body = response.content.decode()
    table = re.search(
        r'<section class="card card-flush" aria-labelledby="biomarkers-heading">.*?</section>', body, re.S
    )
    cells = {}
    for label, row in re.findall(
        r'<tr>\s*<th scope="row">([^<]+)(?:<details.*?</details>)?</th>(.*?)</tr>', table.group(0), re.S
    ):
        columns = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        cells[label] = " ".join(re.sub(r"<[^>]+>", " ", columns[1]).split())
    return cells


def test_results_show_the_change_since_the_previous_value_with_sign_and_unit(tenant_a):
    patient = make_patient(tenant_a, "CH-1")
    older = make_assessment(tenant_a, patient, inputs={"total_cholesterol": 240, "hdl_cholesterol": 40,
                                                       "systolic_bp": 150}, run=True)  # fmt: skip
    newer = make_assessment(tenant_a, patient, inputs={"total_cholesterol": 213, "hdl_cholesterol": 52,
                                                       "systolic_bp": 120}, run=True)  # fmt: skip
    before = timezone.now() - timedelta(days=200)
    with organization_scope(tenant_a.organization):
        older.biomarkers.update(measured_at=before)
        # A value stored in another unit is not subtracted from.
        older.biomarkers.filter(name="bmi").update(unit="lb/in2")
    client = tenant_a.client_for(Role.CLINICIAN)
    cells = _biomarker_cells(client.get(f"/assessments/{newer.pk}/"))
    since = timezone.localtime(before).strftime("%-d %b %Y")
    assert cells["Systolic blood pressure"] == f"−30 mmHg since {since}"
    assert cells["Total cholesterol"] == f"−27 mg/dL since {since}"
    assert cells["HDL cholesterol"] == f"+12 mg/dL since {since}"
    assert cells["Body-mass index"] == "—"
    assert "percentage points since" in cells["10-year ASCVD risk (PCE)"]
    # The first assessment has nothing to compare with.
    assert set(_biomarker_cells(client.get(f"/assessments/{older.pk}/")).values()) == {"—"}
