"""One input schema per modality: it is what the OpenAPI document publishes for a create request's ``inputs`` (per
``modality``, an enum, with an example that the schema accepts), and what the portal's form is built from."""

import dataclasses
import json
import re

import pytest
from drf_spectacular.validation import validate_schema
from rest_framework import serializers

from accounts.roles import Role
from modalities import registry
from modalities.base import PatientFacts
from modalities.cognitive.inputs import RESPONSES_SCHEMA
from modalities.cvd_risk.inputs import CvdRiskInputs
from modalities.inputs import Number

from .portal import make_patient

FACTS = PatientFacts(
    age=55, sex_at_birth="male", bmi=None, has_diabetes=False, treated_hypertension=False, current_smoker=False,
    on_statin=False, prior_cardiovascular_disease=False,
)  # fmt: skip


@pytest.fixture(scope="module")
def document(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def _component(document, reference: str) -> dict:
    return document["components"]["schemas"][reference.rsplit("/", 1)[-1]]


def _create_request(document) -> dict:
    body = document["paths"]["/api/v1/assessments/"]["post"]["requestBody"]["content"]
    assert set(body) >= {"application/json", "multipart/form-data"}
    return body["application/json"]


def test_the_document_is_valid_openapi(document):
    validate_schema(document)


def test_the_create_request_documents_each_modalitys_input_schema(document):
    request = _component(document, _create_request(document)["schema"]["$ref"])
    discriminator = request["discriminator"]
    assert discriminator["propertyName"] == "modality"
    assert set(discriminator["mapping"]) == set(registry.names())
    assert sorted(item["$ref"] for item in request["oneOf"]) == sorted(discriminator["mapping"].values())
    for name, reference in discriminator["mapping"].items():
        variant = _component(document, reference)
        modality = _component(document, variant["properties"]["modality"]["allOf"][0]["$ref"])
        assert modality["enum"] == [name], name
        inputs = _component(document, variant["properties"]["inputs"]["allOf"][0]["$ref"])
        schema = registry.get(name).modality.input_schema
        if schema is None:  # files only: an empty object, and nothing else is accepted
            assert inputs["type"] == "object" and inputs["additionalProperties"] is False, name
        elif schema.json_schema is not None:
            assert set(inputs["properties"]) == set(schema.json_schema["properties"]), name
        else:
            assert set(inputs["properties"]) == set(schema().fields), name


def test_the_cvd_inputs_carry_their_labels_units_and_choices(document):
    mapping = _component(document, _create_request(document)["schema"]["$ref"])["discriminator"]["mapping"]
    variant = _component(document, mapping["cvd_risk"])
    inputs = _component(document, variant["properties"]["inputs"]["allOf"][0]["$ref"])
    properties = inputs["properties"]
    assert not [name for name in properties if name.endswith("_mg_dl")]
    assert properties["systolic_bp"]["title"] == "Systolic blood pressure (mmHg)"
    units = _component(document, properties["cholesterol_unit"]["$ref"])
    assert units["enum"] == ["mg/dL", "mmol/L"]
    assert {"total_cholesterol", "hdl_cholesterol", "systolic_bp"} <= set(inputs["required"])


def test_the_cognitive_inputs_are_the_json_schema_that_validates_them(document):
    mapping = _component(document, _create_request(document)["schema"]["$ref"])["discriminator"]["mapping"]
    variant = _component(document, mapping["cognitive"])
    inputs = _component(document, variant["properties"]["inputs"]["allOf"][0]["$ref"])
    trial = inputs["properties"]["reaction_time"]["properties"]["trials"]["items"]
    rt = trial["properties"]["rt_ms"]
    # The schema's limits, in OpenAPI 3.0's words: above 0, at most the response window, null when none.
    assert (rt["type"], rt["minimum"], rt["exclusiveMinimum"], rt["nullable"]) == ("number", 0, True, True)
    assert rt["maximum"] == RESPONSES_SCHEMA["properties"]["reaction_time"]["properties"]["trials"]["items"][
        "properties"]["rt_ms"]["maximum"] == 5000  # fmt: skip
    assert set(trial["required"]) == {"foreperiod_ms", "rt_ms"} and trial["additionalProperties"] is False
    assert "x-messages" not in json.dumps(inputs)


def test_every_modality_has_an_example_its_schema_accepts(document):
    examples = _create_request(document)["examples"]
    assert {example["value"]["modality"] for example in examples.values()} == set(registry.names())
    for example in examples.values():
        value = example["value"]
        analyzer = registry.get(value["modality"])
        analyzer.validate_inputs(inputs=value["inputs"], patient=FACTS)  # raises InputError if not


# --- the portal's form is the schema's --------------------------------------------------------------------
def _form_fields(body: str) -> dict[str, str]:
    """name -> the HTML of the input/select named inputs-<name>."""
    return {
        match.group(2): match.group(0)
        for match in re.finditer(r'<(input|select)[^>]*name="inputs-([a-z_]+)"[^>]*>', body)
    }


def test_the_cvd_form_is_built_from_the_input_schema(tenant_a):
    patient = make_patient(tenant_a, "S-1")
    body = tenant_a.client_for(Role.TECHNICIAN).get(f"/patients/{patient.pk}/assessments/new/?modality=cvd_risk")
    page = body.content.decode()
    fields = _form_fields(page)
    schema = CvdRiskInputs()
    assert set(fields) == set(schema.fields)
    for name, field in schema.fields.items():
        assert f'for="id_inputs-{name}">{field.label}' in page, name
        if field.help_text:
            assert str(field.help_text).replace("'", "&#x27;") in page, name
    options = re.findall(r'<option value="([^"]*)"', page.split('name="inputs-race"', 1)[1].split("</select>")[0])
    assert options == ["", *schema.fields["race"].choices]
    assert re.search(r'type="date"[^>]*name="inputs-measured_on"|name="inputs-measured_on"[^>]*type="date"', page)


def test_a_field_added_to_the_schema_appears_in_the_form_and_reaches_the_analyzer(tenant_a, monkeypatch):
    class WithWaist(CvdRiskInputs):
        waist_cm = Number(label="Waist circumference (cm)", required=False, allow_null=True, help_text="Measured.")

        def resolved(self, data, patient):
            return {**super().resolved(data, patient), "waist_cm": data.get("waist_cm")}

    analyzer = registry.get("cvd_risk")
    monkeypatch.setattr(analyzer, "modality", dataclasses.replace(analyzer.modality, input_schema=WithWaist))
    monkeypatch.setattr(analyzer, "validate_inputs", lambda *, inputs, patient, history=None: _validated(
        WithWaist, inputs, patient))  # fmt: skip
    patient = make_patient(tenant_a, "S-2")
    client = tenant_a.client_for(Role.CLINICIAN)
    page = client.get(f"/patients/{patient.pk}/assessments/new/?modality=cvd_risk").content.decode()
    assert 'name="inputs-waist_cm"' in page and "Waist circumference (cm)" in page
    from .portal import form_data

    refused = client.post(f"/patients/{patient.pk}/assessments/new/?modality=cvd_risk",
                          form_data(**{"inputs-waist_cm": "wide"}))  # fmt: skip
    assert refused.status_code == 400
    assert re.search(r'id="id_inputs-waist_cm_error">.*Enter a number\.', refused.content.decode(), flags=re.S)


def _validated(schema, inputs, patient):
    from modalities.inputs import validate

    return validate(schema, inputs, patient)


def test_a_schema_field_the_portal_cannot_show_is_left_out():
    from assessments.forms import inputs_form

    class Nested(CvdRiskInputs):
        history = serializers.DictField(required=False)

    assert "history" not in inputs_form(Nested, prefix="inputs").fields
    assert inputs_form(registry.get("cognitive").modality.input_schema, prefix="inputs") is None


@pytest.mark.parametrize(
    ("modality", "shown"),
    [
        ("dermatology", {"image_type", "pixels_per_mm", "dermoscopic_structures", "lesion_id"}),  # not `previous`
        ("speech", {"task"}),
        ("cognitive", set()),  # raw responses come from the kiosk or a partner, never typed
        ("cardiology", set()),  # files only
    ],
)
def test_each_modalitys_form_shows_what_its_schema_lets_a_person_type(tenant_a, modality, shown):
    patient = make_patient(tenant_a, f"S-{modality}")
    client = tenant_a.client_for(Role.TECHNICIAN)
    page = client.get(f"/patients/{patient.pk}/assessments/new/?modality={modality}").content.decode()
    assert set(_form_fields(page)) == shown
