"""Only platform admins import: clinic users are refused by the service and by admin; the command and the
scheduled task run as the system; the scheduled task does nothing while its URL setting is empty."""

import logging

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import User
from accounts.roles import Role
from directory.models import DirectoryImport, DirectorySource, Facility
from directory.services import ImportRequest, rollback, run_import
from directory.tasks import scheduled_import

from .conftest import FINESS_SAMPLE, sample_lines, write_lines

pytestmark = pytest.mark.django_db


@pytest.fixture
def platform_admin(db, password):
    return User.objects.create_superuser("platform@medilens.example.org", password, full_name="Platform Admin")


@pytest.mark.parametrize("role", [Role.ORG_ADMIN, Role.CLINICIAN])
def test_clinic_users_cannot_import_or_roll_back(tenant_a, role):
    user = tenant_a.users[role]
    with pytest.raises(PermissionDenied):
        run_import(request=ImportRequest(source="finess", file=FINESS_SAMPLE), actor=user)
    with pytest.raises(PermissionDenied):
        rollback(source="finess", actor=user)
    assert not DirectoryImport.objects.exists() and not Facility.objects.exists()


def test_a_platform_admin_imports_and_is_recorded_as_its_author(platform_admin):
    record = run_import(request=ImportRequest(source="finess", file=FINESS_SAMPLE), actor=platform_admin)
    assert record.status == DirectoryImport.Status.SUCCEEDED and record.started_by == platform_admin


def test_clinic_users_get_no_admin_page_of_imports(tenant_a):
    response = tenant_a.client_for(Role.ORG_ADMIN).get("/admin/directory/directoryimport/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_platform_admin_rolls_back_from_admin(platform_admin, tmp_path):
    first = run_import(request=ImportRequest(source="finess", file=FINESS_SAMPLE))
    lines = [line.replace("CLINIQUE DU PARC", "CLINIQUE DU PARC FLEURI") for line in sample_lines(FINESS_SAMPLE)]
    run_import(request=ImportRequest(source="finess", file=write_lines(tmp_path / "next.csv", lines)))
    client = Client()
    client.force_login(platform_admin)
    assert client.get("/admin/directory/directoryimport/").status_code == 200
    source = DirectorySource.objects.get(source="finess")
    response = client.post(
        "/admin/directory/directorysource/", {"action": "roll_back", "_selected_action": [source.pk]}
    )
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.current == first


def test_the_command_imports_a_file_and_rolls_back(tmp_path, capsys):
    call_command("import_directory", "finess", "--file", str(FINESS_SAMPLE), "--no-progress")
    lines = [line.replace("CLINIQUE DU PARC", "CLINIQUE DU PARC FLEURI") for line in sample_lines(FINESS_SAMPLE)]
    call_command("import_directory", "finess", "--file", str(write_lines(tmp_path / "next.csv", lines)))
    assert "100%" in capsys.readouterr().err  # the progress bar reached its end
    call_command("import_directory", "finess", "--rollback")
    assert "Rolled back finess" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no previous finess data"):
        call_command("import_directory", "finess", "--rollback")


def test_the_command_reports_a_failed_import_as_an_error(tmp_path):
    bad = write_lines(tmp_path / "bad.csv", ["finess;extraction;1;2024-01-01"])
    with pytest.raises(CommandError, match="failed: line 1 is not the FINESS identification line"):
        call_command("import_directory", "finess", "--file", str(bad), "--no-progress")


def test_the_command_without_file_or_url_names_the_empty_setting(settings):
    settings.DIRECTORY_OPENMEDIC_URL = ""
    with pytest.raises(CommandError, match="DIRECTORY_OPENMEDIC_URL is empty"):
        call_command("import_directory", "openmedic")
    assert not DirectoryImport.objects.exists()


def test_the_scheduled_import_does_nothing_while_its_url_is_empty(settings, caplog):
    settings.DIRECTORY_FINESS_URL = ""
    with caplog.at_level(logging.INFO, logger="directory.tasks"):
        assert scheduled_import("finess") is None
    assert "DIRECTORY_FINESS_URL is empty" in caplog.text
    assert not DirectoryImport.objects.exists()


def test_the_scheduled_import_downloads_from_its_url_setting(settings, loopback_server, download_dir):
    settings.DIRECTORY_FINESS_URL = loopback_server("/finess.csv", FINESS_SAMPLE.read_bytes())
    record = DirectoryImport.objects.get(pk=scheduled_import("finess"))
    assert record.status == DirectoryImport.Status.SUCCEEDED and record.started_by is None


def test_beat_schedules_both_sources(settings):
    tasks = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "directory.tasks.scheduled_import" in tasks
    arguments = {tuple(entry.get("args", ())) for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {("finess",), ("openmedic",)} <= arguments
