"""The import task through a real Celery worker process: queued as the admin action queues it, it downloads
from a loopback server and makes the data current."""

import time

import pytest

from directory.models import DirectoryImport, DirectorySource
from directory.tasks import import_directory

from .conftest import FINESS_SAMPLE

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_the_worker_runs_a_queued_import(celery_worker, loopback_server):
    url = loopback_server("/etalab-cs1100507-stock.csv", FINESS_SAMPLE.read_bytes())
    import_directory.delay("finess", url=url)
    deadline = time.monotonic() + 60
    record = None
    while time.monotonic() < deadline:
        record = DirectoryImport.objects.filter(source="finess").exclude(status="running").first()
        if record is not None:
            break
        time.sleep(0.2)
    assert record is not None, "the worker did not finish the import within 60 s"
    assert record.status == DirectoryImport.Status.SUCCEEDED, record.reason
    assert record.origin == url and record.rows == 211
    assert DirectorySource.objects.get(source="finess").current == record
