"""The demo imports the shipped samples once; a second run changes nothing (no new import record)."""

import pytest

from directory.demo import seed_samples
from directory.models import DirectoryImport, DirectorySource, Facility, Medicine

pytestmark = pytest.mark.django_db


def test_the_demo_imports_the_samples_once():
    assert seed_samples() == {"finess": "imported (211 rows)", "openmedic": "imported (22 rows)"}
    records = list(DirectoryImport.objects.values_list("pk", flat=True))
    assert seed_samples() == {"finess": "already current", "openmedic": "already current"}
    assert list(DirectoryImport.objects.values_list("pk", flat=True)) == records
    assert DirectorySource.objects.count() == 2
    assert (Facility.objects.count(), Medicine.objects.count()) == (211, 22)
