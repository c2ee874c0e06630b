"""README's API example runs as written: its bash block, against a live server on the test database, with
only the demo's address replaced by the live server's. Every curl must answer 2xx, and the assessment it
creates must be one the worker can complete."""

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from accounts.tenancy import organization_scope, scopes_disabled
from assessments import pipeline, services
from assessments.models import Assessment

README = Path(__file__).resolve().parents[1] / "README.md"
DEMO_ADDRESS = "http://127.0.0.1:8000"
# Records each curl's HTTP status in a file, and prints the body as curl would: the README's lines unchanged.
CURL_RECORDER = r"""
curl() {
  local out
  out=$(command curl -sS -w $'\n%{http_code}' "$@")
  printf '%s\n' "${out##*$'\n'}" >> "$STATUS_LOG"
  printf '%s\n' "${out%$'\n'*}"
}
"""


def api_example() -> str:
    """The bash block of README's REST API section: the one that reads the demo's API key."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    examples = [block for block in blocks if "demo-credentials.json" in block and "/api/v1" in block]
    assert len(examples) == 1, "README should have exactly one API example block"
    return examples[0]


@pytest.mark.django_db(transaction=True)
def test_the_api_example_runs_as_written(tenant_a, live_server, tmp_path):
    with organization_scope(tenant_a.organization):
        patient = services.create_patient(
            actor="system:test", organization=tenant_a.organization, consent=True, mrn="NOR-100000",
            given_name="Grace", family_name="Hart", date_of_birth=date(1968, 3, 14), sex_at_birth="female",
        )  # fmt: skip
    (tmp_path / "var").mkdir()
    credentials = {"organizations": [{"api_key": tenant_a.api_keys["clinician"]}]}
    (tmp_path / "var" / "demo-credentials.json").write_text(json.dumps(credentials))
    status_log = tmp_path / "statuses"
    script = api_example().replace(DEMO_ADDRESS, live_server.url)
    assert live_server.url in script
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # `python` is the venv's
        "STATUS_LOG": str(status_log),
    }
    completed = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + CURL_RECORDER + script],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    statuses = status_log.read_text().split()
    assert statuses and all(code.startswith("2") for code in statuses), statuses
    assert "201" in statuses  # the assessment was created, not refused
    last = json.loads(completed.stdout.strip().splitlines()[-1])
    assert last["patient"] == str(patient.pk) and last["modality"] == "cvd_risk"

    with scopes_disabled():
        assessment = Assessment.objects.get(patient=patient)
    with organization_scope(tenant_a.organization):
        # "skipped" when the session's Celery worker (started by an earlier test) already ran the task the
        # live server published: either way the assessment must have completed.
        assert pipeline.run(assessment.pk) in {"completed", "skipped"}
        assessment.refresh_from_db()
    assert assessment.status == "completed", assessment.failure_reason
    assert assessment.results["score"]["label"] == "10-year ASCVD risk (PCE)"
