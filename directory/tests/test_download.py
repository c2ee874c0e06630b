"""Imports from a URL, served by a loopback HTTP server started in the test: the raw file is deleted after
the import, and a stalled or oversized download fails with a reason and changes nothing."""

import pytest

from directory.models import DirectoryImport, DirectorySource, Facility
from directory.services import ImportRequest, run_import

from .conftest import FINESS_SAMPLE, OPENMEDIC_SAMPLE

pytestmark = pytest.mark.django_db


def _current(source="finess"):
    row = DirectorySource.objects.filter(source=source).first()
    return row.current if row else None


def test_a_downloaded_file_is_imported_and_then_deleted(loopback_server, download_dir):
    url = loopback_server("/data/OPEN_MEDIC_2024.CSV", OPENMEDIC_SAMPLE.read_bytes())
    record = run_import(request=ImportRequest(source="openmedic", url=url))
    assert record.status == DirectoryImport.Status.SUCCEEDED, record.reason
    assert record.origin == url and record.rows == 22 and record.file_size == OPENMEDIC_SAMPLE.stat().st_size
    assert list(download_dir.iterdir()) == []


def test_a_download_that_stalls_times_out_and_changes_nothing(loopback_server, download_dir, settings):
    first = run_import(request=ImportRequest(source="finess", file=FINESS_SAMPLE))
    settings.DIRECTORY_DOWNLOAD_TIMEOUT = 0.5
    url = loopback_server("/stalled.csv", "stall")
    failed = run_import(request=ImportRequest(source="finess", url=url))
    assert failed.status == DirectoryImport.Status.FAILED
    assert "timed out" in failed.reason and "DIRECTORY_DOWNLOAD_TIMEOUT" in failed.reason
    assert _current() == first and Facility.objects.count() == 211
    assert list(download_dir.iterdir()) == []


def test_a_download_announcing_more_than_the_limit_is_refused(loopback_server, download_dir, settings):
    settings.DIRECTORY_MAX_FILE_BYTES = 10_000
    url = loopback_server("/big.csv", b"x" * 100, declared_length=50_000_000)
    failed = run_import(request=ImportRequest(source="finess", url=url))
    assert failed.status == DirectoryImport.Status.FAILED
    assert "announces 50,000,000 bytes, over DIRECTORY_MAX_FILE_BYTES" in failed.reason
    assert _current() is None and list(download_dir.iterdir()) == []


def test_a_download_growing_past_the_limit_is_cut_off(loopback_server, download_dir, settings):
    settings.DIRECTORY_MAX_FILE_BYTES = 10_000
    url = loopback_server("/chunked.csv", FINESS_SAMPLE.read_bytes(), declared_length=-1)
    failed = run_import(request=ImportRequest(source="finess", url=url))
    assert failed.status == DirectoryImport.Status.FAILED and "passed DIRECTORY_MAX_FILE_BYTES" in failed.reason
    assert list(download_dir.iterdir()) == []


def test_a_missing_file_on_the_server_is_named(loopback_server, download_dir):
    url = loopback_server("/elsewhere.csv", b"")
    failed = run_import(request=ImportRequest(source="finess", url=url.replace("elsewhere", "missing")))
    assert failed.status == DirectoryImport.Status.FAILED and "HTTP 404" in failed.reason
