"""The demo enrols its org admins and platform admin with an authenticator-app secret and writes it beside
the password, so a newcomer can sign in; a second run keeps the secrets."""

import json

from allauth.mfa.models import Authenticator
from django.core.management import call_command
from django.test import Client

from accounts.management.commands import seed_demo
from accounts.models import User
from medilens.testing.mfa import totp_code


def _sign_in(email, password, secret):
    client = Client()
    response = client.post("/accounts/login/", {"username": email, "password": password})
    assert response["Location"] == "/accounts/2fa/authenticate/", email
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert response.status_code == 302 and "_auth_user_id" in client.session, email
    return client


def test_seed_demo_writes_totp_secrets_that_sign_in(db, settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    # The logins are what this test is about; the clinical data (patients, queued assessments) takes 10 s.
    monkeypatch.setattr(seed_demo.Command, "_seed_clinical_data", lambda self, count: None)
    call_command("seed_demo", patients=0, stdout=open("/dev/null", "w"))  # noqa: SIM115
    credentials = json.loads((tmp_path / "demo-credentials.json").read_text())

    admin = credentials["platform_admin"]
    client = _sign_in(admin["email"], admin["password"], admin["totp_secret"])
    assert client.get("/admin/").status_code == 200
    for organization in credentials["organizations"]:
        for login in organization["logins"]:
            has_secret = "totp_secret" in login
            assert has_secret == (login["role"] == "org_admin"), login["email"]
            if has_secret:
                _sign_in(login["email"], login["password"], login["totp_secret"])

    call_command("seed_demo", patients=0, stdout=open("/dev/null", "w"))  # noqa: SIM115
    again = json.loads((tmp_path / "demo-credentials.json").read_text())
    assert again["platform_admin"]["totp_secret"] == admin["totp_secret"]
    user = User.objects.get(email=admin["email"])
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).count() == 1
