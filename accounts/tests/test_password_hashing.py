"""Passwords are stored with Argon2id at OWASP's minimum costs (accounts/hashers.py), and a hash stored
before (Django's PBKDF2, or Argon2 at other costs) still signs its user in and is re-hashed at that sign-in.

The test settings hash with MD5 for speed; these tests put the production list back."""

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from django.test import Client, override_settings

import medilens.settings.auth as production_settings
from accounts.models import User
from accounts.roles import Role

pytestmark = pytest.mark.django_db
PRODUCTION = override_settings(PASSWORD_HASHERS=production_settings.PASSWORD_HASHERS)
OWASP_MINIMUM = "$argon2id$v=19$m=19456,t=2,p=1$"


@PRODUCTION
def test_a_new_password_is_stored_as_argon2id_at_owasps_minimum_costs():
    stored = make_password("a long clinic passphrase")
    assert stored.startswith("argon2" + OWASP_MINIMUM), stored
    assert check_password("a long clinic passphrase", stored)
    assert not check_password("a long clinic passphrasE", stored)
    assert make_password("a long clinic passphrase") != stored  # salted


def _sign_in(email: str, password: str):
    return Client().post("/accounts/login/", {"username": email, "password": password}, REMOTE_ADDR="10.0.0.9")


@PRODUCTION
@pytest.mark.parametrize(
    "older", ["django.contrib.auth.hashers.PBKDF2PasswordHasher", "django.contrib.auth.hashers.Argon2PasswordHasher"]
)
def test_a_password_stored_before_signs_in_and_is_rehashed_then(tenant_a, password, older):
    user = tenant_a.users[Role.CLINICIAN]
    with override_settings(PASSWORD_HASHERS=[older]):
        previous = make_password(password)
    User.objects.filter(pk=user.pk).update(password=previous)

    assert _sign_in(user.email, "not the password 123").status_code == 200
    assert User.objects.get(pk=user.pk).password == previous  # a refused sign-in changes nothing

    assert _sign_in(user.email, password).status_code == 302
    upgraded = User.objects.get(pk=user.pk).password
    assert upgraded != previous and upgraded.startswith("argon2" + OWASP_MINIMUM), upgraded
    assert identify_hasher(upgraded).__class__.__name__ == "Argon2idPasswordHasher"
    assert _sign_in(user.email, password).status_code == 302
