"""README's webhook examples run as written: the registration curl against a live server (only the example
URL replaced by a local receiver's), then README's receiver program, given the secret that call returned,
verifies a real delivery and refuses a forged one."""

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import urllib3
from django_scopes import scopes_disabled

from accounts import services as account_services
from accounts.models import ApiClient
from accounts.roles import Role
from accounts.tenancy import organization_scope
from accounts.tests.tenant_routes import make_assessment
from assessments.models import Assessment
from webhooks import delivery as attempts
from webhooks.models import WebhookDelivery

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE_URL = "https://ehr.example.org/hooks/medilens"


def _section() -> str:
    text = README.read_text()
    return text[text.index("### Webhooks") :]


def registration_example() -> str:
    (block,) = [b for b in re.findall(r"```bash\n(.*?)```", _section(), flags=re.S) if "/webhooks/" in b][:1]
    return block


def receiver_example() -> str:
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", _section(), flags=re.S) if "standardwebhooks" in b][:1]
    return block


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port: int, process, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the README receiver exited: {process.stderr.read()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("the README receiver did not listen")


@pytest.mark.django_db(transaction=True)
def test_the_webhook_examples_run_as_written(tenant_a, live_server, tmp_path, settings):
    settings.WEBHOOK_QUEUE = "readme-unconsumed"  # this test makes the attempt itself, in-process
    client = tenant_a.api_clients[ApiClient.Access.CLINICIAN]
    account_services.set_api_client_webhook_grant(
        acting_user=tenant_a.users[Role.ORG_ADMIN], organization=tenant_a.organization, client=client, granted=True
    )
    port = _free_port()
    receiver_url = f"http://127.0.0.1:{port}/hooks/medilens"
    script = registration_example()
    assert EXAMPLE_URL in script
    registered = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script.replace(EXAMPLE_URL, receiver_url)],
        env={**os.environ, "KEY": tenant_a.api_keys["clinician"], "API": f"{live_server.url}/api/v1"},
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    endpoint = json.loads(registered.stdout)
    assert endpoint["secret"].startswith("whsec_"), endpoint

    program = tmp_path / "receiver.py"
    program.write_text(receiver_example())
    process = subprocess.Popen(
        [sys.executable, str(program)],
        env={**os.environ, "MEDILENS_WEBHOOK_SECRET": endpoint["secret"], "PORT": str(port)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_listening(port, process)
        assessment = make_assessment(tenant_a, status=Assessment.Status.COMPLETED)
        with scopes_disabled():
            delivery = WebhookDelivery.objects.get(endpoint_id=endpoint["id"])
        with organization_scope(tenant_a.organization):
            assert attempts.attempt(delivery.pk, 1) == ("succeeded", None)
        forged = urllib3.request(
            "POST", receiver_url, body=b'{"type":"assessment.completed"}',
            headers={"webhook-id": "msg_forged", "webhook-timestamp": str(int(time.time())),
                     "webhook-signature": "v1,bm90IHRoZSBzaWduYXR1cmU="},
        )  # fmt: skip
        assert forged.status == 400
    finally:
        process.terminate()
        out, _err = process.communicate(timeout=10)
    with scopes_disabled():
        assert WebhookDelivery.objects.get(pk=delivery.pk).last_response_code == 204
    assert out.split() == ["assessment.completed", str(assessment.pk)]
