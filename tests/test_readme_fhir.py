"""README's FHIR example runs as written: its bash block, against a live server on the test database, with
only the demo's address replaced by the live server's and KEY and PATIENT set as the REST API example sets
them. Every curl must answer 2xx with a FHIR resource that fhir.resources' R4B models accept."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fhir.resources.R4B import get_fhir_model_class

from assessments.tests.helpers_api import make_patient
from fhir_export.tests.helpers import GOFF_PANEL, run

from .test_readme_examples import CURL_RECORDER, DEMO_ADDRESS, README


def fhir_example() -> str:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    examples = [block for block in blocks if "/api/v1/fhir" in block]
    assert len(examples) == 1, "README should have exactly one FHIR example block"
    return examples[0]


@pytest.mark.django_db(transaction=True)
def test_the_fhir_example_runs_as_written(tenant_a, live_server, tmp_path):
    patient = make_patient(tenant_a, mrn="NOR-100000")
    assessment = run(tenant_a, patient, modality="cvd_risk", inputs=dict(GOFF_PANEL))
    assert assessment.status == "completed", assessment.failure_reason
    status_log = tmp_path / "statuses"
    script = fhir_example().replace(DEMO_ADDRESS, live_server.url)
    assert live_server.url in script
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "STATUS_LOG": str(status_log),
        "KEY": tenant_a.api_keys["clinician"],
        "PATIENT": str(patient.pk),
    }
    completed = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + CURL_RECORDER + script],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    statuses = status_log.read_text().split()
    assert len(statuses) == 4 and all(code == "200" for code in statuses), statuses
    # Each curl printed one JSON document (curl writes no newline after a body: split on resourceType).
    bodies = [json.loads(chunk) for chunk in _documents(completed.stdout)]
    kinds = [body["resourceType"] for body in bodies]
    assert kinds == ["CapabilityStatement", "Patient", "Bundle", "Bundle"], kinds
    for body in bodies:
        get_fhir_model_class(body["resourceType"]).model_validate(body)
    search = bodies[3]
    assert search["total"] == 1 and search["entry"][0]["resource"]["valueQuantity"]["value"] == 213


def _documents(output: str) -> list[str]:
    decoder, position, found = json.JSONDecoder(), 0, []
    text = output.strip()
    while position < len(text):
        document, end = decoder.raw_decode(text, position)
        found.append(json.dumps(document))
        position = end
        while position < len(text) and text[position].isspace():
            position += 1
    return found
