"""The import pipeline: load and swap, re-run no-op, validation failure, rollback, and bad files that fail
with a reason and change nothing."""

import os
from pathlib import Path

import pytest

from audit.models import AuditEvent
from directory.models import DirectoryImport, DirectorySource, Facility, FacilityKey, Medicine
from directory.services import ImportRefused, ImportRequest, rollback, run_import

from .conftest import FINESS_SAMPLE, OPENMEDIC_SAMPLE, sample_lines, write_lines

pytestmark = pytest.mark.django_db


def _import(path: Path, source: str = "finess", **kwargs) -> DirectoryImport:
    return run_import(request=ImportRequest(source=source, file=path, **kwargs))


def _current(source: str = "finess") -> DirectoryImport | None:
    row = DirectorySource.objects.filter(source=source).first()
    return row.current if row else None


def _renamed(tmp_path: Path, name: str = "finess-next.csv") -> Path:
    """The sample a month later: one establishment renamed (a different file, the same size of data)."""
    lines = [line.replace("CLINIQUE DU PARC", "CLINIQUE DU PARC FLEURI") for line in sample_lines(FINESS_SAMPLE)]
    return write_lines(tmp_path / name, lines)


def test_an_import_loads_the_sample_and_makes_it_current():
    record = _import(FINESS_SAMPLE)
    assert record.status == DirectoryImport.Status.SUCCEEDED, record.reason
    assert (record.rows, record.progress, record.step) == (211, 100, "done")
    assert record.file_size == FINESS_SAMPLE.stat().st_size and len(record.checksum) == 64
    assert _current() == record
    north = Facility.objects.get(dataset=record, name="CHU DE SAINT-ÉTIENNE HÔPITAL NORD")
    assert (north.commune, north.commune_folded, north.postcode) == ("SAINT-ÉTIENNE", "saint etienne", "42055")
    assert (north.commune_code, north.department_code, north.region_code) == ("42218", "42", "84")
    assert north.coordinate_source == "LAMBERT_93" and 45.4 < north.latitude < 45.5
    assert north.services == [] and north.category_group_label == "Centres Hospitaliers"
    assert Facility.objects.filter(dataset=record, services=[]).count() == 211  # a JSON list, not a string
    assert "191 of 211 establishments located" in record.reason
    assert AuditEvent.objects.filter(action="directory.imported", target_id=str(record.pk)).exists()


@pytest.mark.parametrize(
    ("commune", "latitude", "longitude", "system"),
    [
        # Published town-hall positions; the sample's records lie within 0.02° of them.
        ("CAYENNE", 4.9224, -52.3135, "UTM_N22"),
        ("SAINT-DENIS", -20.8821, 55.4507, "UTM_S40"),
        ("MAMOUDZOU", -12.7806, 45.2279, "UTM_S38"),
        ("FORT-DE-FRANCE", 14.6161, -61.0588, "UTM_N20"),
    ],
)
def test_overseas_records_in_utm_land_on_their_towns(commune, latitude, longitude, system):
    record = _import(FINESS_SAMPLE)
    facility = Facility.objects.filter(dataset=record, commune=commune).first()
    assert facility.coordinate_source == system
    assert facility.latitude == pytest.approx(latitude, abs=0.05)
    assert facility.longitude == pytest.approx(longitude, abs=0.05)
    assert facility.department_code.startswith("97") and facility.commune_code.startswith("97")


def test_the_openmedic_sample_is_stored_summed_per_cip13():
    record = _import(OPENMEDIC_SAMPLE, source="openmedic")
    assert record.status == DirectoryImport.Status.SUCCEEDED, record.reason
    tahor = Medicine.objects.get(dataset=record, cip13="3400930000069")
    assert (tahor.name, tahor.year, tahor.boxes) == ("TAHOR 10 MG CPR", 2024, 180)
    assert (str(tahor.reimbursed_amount), str(tahor.base_amount)) == ("1245.00", "1311.30")
    assert (tahor.atc1, tahor.atc2, tahor.atc3, tahor.atc4, tahor.atc5) == ("C", "C10", "C10A", "C10AA", "C10AA05")
    assert tahor.atc5_label == "ATORVASTATINE" and tahor.atc2_label == "HYPOLIPIDEMIANTS"
    assert Medicine.objects.filter(dataset=record, atc4="C10AA").count() == 10  # the sample's statins


def test_re_running_the_same_file_is_a_no_op():
    first = _import(FINESS_SAMPLE)
    again = _import(FINESS_SAMPLE)
    assert again.status == DirectoryImport.Status.NO_CHANGE
    assert f"import #{first.pk}" in again.reason
    assert _current() == first
    assert Facility.objects.count() == 211


def test_an_import_failing_validation_leaves_the_old_data(tmp_path):
    first = _import(FINESS_SAMPLE)
    lines = sample_lines(FINESS_SAMPLE)
    half = [line for index, line in enumerate(lines) if index == 0 or index % 2 or line.startswith("geo")]
    failed = _import(write_lines(tmp_path / "half.csv", half))
    assert failed.status == DirectoryImport.Status.FAILED
    assert "DIRECTORY_IMPORT_TOLERANCE (20%)" in failed.reason and "211" in failed.reason
    assert _current() == first
    assert not Facility.objects.filter(dataset=failed).exists()
    assert Facility.objects.filter(dataset=first).count() == 211


def test_a_new_import_swaps_in_and_keeps_the_previous_for_rollback(tmp_path):
    first = _import(FINESS_SAMPLE)
    second = _import(_renamed(tmp_path))
    assert second.status == DirectoryImport.Status.SUCCEEDED, second.reason
    source = DirectorySource.objects.get(source="finess")
    assert (source.current, source.previous) == (second, first)
    assert Facility.objects.filter(dataset=second, name="CLINIQUE DU PARC FLEURI").exists()

    current = rollback(source="finess")
    assert current == first
    source.refresh_from_db()
    assert (source.current, source.previous) == (first, None)
    second.refresh_from_db()
    assert second.status == DirectoryImport.Status.ROLLED_BACK
    assert not Facility.objects.filter(dataset=second).exists()
    assert AuditEvent.objects.filter(action="directory.rolled_back", target_id=str(second.pk)).exists()
    with pytest.raises(ImportRefused, match="no previous finess data"):
        rollback(source="finess")


def test_datasets_older_than_previous_are_deleted_after_a_swap(tmp_path):
    first = _import(FINESS_SAMPLE)
    second = _import(_renamed(tmp_path))
    third = _import(write_lines(tmp_path / "third.csv", [line.replace("EHPAD", "EHPAD DU") for line in
                                                          sample_lines(FINESS_SAMPLE)]))
    assert third.status == DirectoryImport.Status.SUCCEEDED, third.reason
    assert not Facility.objects.filter(dataset=first).exists()
    assert Facility.objects.filter(dataset=second).count() == 211  # previous: kept for rollback
    assert DirectoryImport.objects.filter(pk=first.pk).exists()  # the record stays, as history


def _corrupt(tmp_path):
    return tmp_path.joinpath("corrupt.csv").write_bytes(os.urandom(4096)) and tmp_path / "corrupt.csv"


def _truncated(tmp_path):
    data = FINESS_SAMPLE.read_bytes()
    return tmp_path.joinpath("truncated.csv").write_bytes(data[: len(data) * 2 // 3]) and tmp_path / "truncated.csv"


def _wrong_header(tmp_path):
    lines = sample_lines(FINESS_SAMPLE)
    return write_lines(tmp_path / "header.csv", ["finess;extraction;95;2024-12-01"] + lines[1:])


def _other_layout(tmp_path):
    return write_lines(tmp_path / "openmedic-as-finess.csv", sample_lines(OPENMEDIC_SAMPLE))


def _duplicate(tmp_path):
    lines = sample_lines(FINESS_SAMPLE)
    return write_lines(tmp_path / "duplicate.csv", lines[:3] + [lines[2]] + lines[3:])


def _swapped_coordinates(tmp_path):
    lines = sample_lines(FINESS_SAMPLE)
    index = next(i for i, line in enumerate(lines) if line.startswith("geolocalisation;"))
    fields = lines[index].split(";")
    fields[2], fields[3] = fields[3], fields[2]
    lines[index] = ";".join(fields)
    return write_lines(tmp_path / "swapped.csv", lines)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_corrupt, None),  # random bytes: either not Windows-1252 or not the identification line
        (_truncated, "truncated"),
        (_wrong_header, "line 1 is not the FINESS identification line"),
        (_other_layout, "an OpenMedic yearly file"),
        (_duplicate, "duplicate FINESS numbers"),
        (_swapped_coordinates, "outside the area that system covers"),
    ],
    ids=["corrupt", "truncated", "wrong-header", "other-source-layout", "duplicate-key", "coordinates-out-of-range"],
)
def test_a_bad_file_fails_with_a_reason_and_changes_nothing(tmp_path, make, reason):
    first = _import(FINESS_SAMPLE)
    failed = _import(make(tmp_path))
    assert failed.status == DirectoryImport.Status.FAILED
    assert failed.reason
    if reason:
        assert reason in failed.reason
    else:
        assert "not cp1252 text" in failed.reason or "identification line" in failed.reason
    assert _current() == first
    assert Facility.objects.count() == 211 and not Facility.objects.filter(dataset=failed).exists()
    assert AuditEvent.objects.filter(action="directory.import_failed", target_id=str(failed.pk)).exists()


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(settings):
    first = _import(FINESS_SAMPLE)
    settings.DIRECTORY_MAX_FILE_BYTES = 1000
    failed = _import(OPENMEDIC_SAMPLE, source="openmedic")
    assert failed.status == DirectoryImport.Status.FAILED
    assert "over DIRECTORY_MAX_FILE_BYTES (1,000 bytes)" in failed.reason
    assert failed.checksum == "" and _current("openmedic") is None and _current() == first


def test_an_openmedic_file_without_a_year_in_its_name_asks_for_one(tmp_path):
    unnamed = write_lines(tmp_path / "medicines.csv", sample_lines(OPENMEDIC_SAMPLE))
    failed = _import(unnamed, source="openmedic")
    assert failed.status == DirectoryImport.Status.FAILED and "give --year" in failed.reason
    assert _import(unnamed, source="openmedic", year=2023).status == DirectoryImport.Status.SUCCEEDED
    assert set(Medicine.objects.values_list("year", flat=True)) == {2023}


def test_an_import_left_running_by_a_lost_process_is_closed_by_the_next(settings):
    from datetime import timedelta

    from django.utils import timezone

    lost = DirectoryImport.objects.create(source="finess", step="load")
    Facility.objects.create(dataset=lost, finess="010000001", name="PARTIAL ROW")
    DirectoryImport.objects.filter(pk=lost.pk).update(started_at=timezone.now() - timedelta(hours=7))
    record = _import(FINESS_SAMPLE)
    assert record.status == DirectoryImport.Status.SUCCEEDED
    lost.refresh_from_db()
    assert lost.status == DirectoryImport.Status.FAILED and "interrupted" in lost.reason
    assert not Facility.objects.filter(dataset=lost).exists()


def test_a_second_import_of_a_source_waits_for_the_running_one():
    running = DirectoryImport.objects.create(source="finess", step="load")
    with pytest.raises(ImportRefused, match=f"import #{running.pk} of finess is running"):
        _import(FINESS_SAMPLE)
    assert DirectoryImport.objects.count() == 1 and not Facility.objects.exists()


def test_a_routing_line_abbreviating_saint_is_found_under_both_spellings():
    from directory.facilities import facility_from
    from directory.formats.finess import STRUCTURE_FIELDS

    record = dict.fromkeys(STRUCTURE_FIELDS, "")
    record.update(nofinesset="420000001", rs="CH ST JOSEPH", departement="42", commune="218",
                  ligneacheminement="42055 ST ETIENNE CEDEX 2")
    facility = facility_from(DirectoryImport(source="finess"), record)
    assert (facility.postcode, facility.commune) == ("42055", "ST ETIENNE")
    assert facility.commune_folded == "saint etienne st etienne"
    assert facility.name_folded == "ch saint joseph ch st joseph"


def test_an_import_says_how_many_keys_it_added_and_removed(tmp_path):
    first = _import(FINESS_SAMPLE)
    lines = sample_lines(FINESS_SAMPLE)
    structures = [index for index, line in enumerate(lines) if line.startswith("structureet;")]
    removed = {lines[index].split(";")[1] for index in structures[:3]}
    kept = [line for line in lines if line.split(";")[1] not in removed]
    added = lines[structures[3]].replace(lines[structures[3]].split(";")[1], "990000001", 1)
    second = _import(write_lines(tmp_path / "changed.csv", kept + [added]))
    assert second.status == DirectoryImport.Status.SUCCEEDED, second.reason
    assert f"1 added, 3 removed since import #{first.pk}" in second.reason


def test_the_published_zip_of_an_openmedic_year_imports_and_a_cut_one_fails(tmp_path):
    import zipfile

    archive = tmp_path / "OPEN_MEDIC_2024.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("OPEN_MEDIC_2024.CSV", OPENMEDIC_SAMPLE.read_bytes())
    record = _import(archive, source="openmedic")
    assert record.status == DirectoryImport.Status.SUCCEEDED, record.reason
    assert record.rows == 22 and Medicine.objects.get(dataset=record, cip13="3400930000069").boxes == 180

    cut = tmp_path / "OPEN_MEDIC_2025.zip"
    cut.write_bytes(archive.read_bytes()[:-200])
    failed = _import(cut, source="openmedic")
    assert failed.status == DirectoryImport.Status.FAILED and "zip archive is damaged or truncated" in failed.reason
    assert _current("openmedic") == record


def test_an_import_writes_its_search_keys_and_they_go_with_its_rows(tmp_path):
    """The facility search's word-start keys (directory/search/keys.py): written by the import, with each row's
    rank in name order; deleted with the rows of a rolled-back import."""
    first = _import(FINESS_SAMPLE)
    rows = list(Facility.objects.filter(dataset=first).values_list("id", "name_folded", "commune_folded", "name_rank"))
    by_name = sorted(rows, key=lambda row: (row[1].encode(), row[0]))
    assert [row[3] for row in by_name] == list(range(1, len(rows) + 1))
    north = next(row for row in rows if row[1].startswith("chu de saint etienne hopital nord"))
    assert set(FacilityKey.objects.filter(dataset_id=first.pk, facility_id=north[0]).values_list("key", flat=True)) >= {
        "ch", "chu", "sa", "sai", "saint", "et", "eti", "etien", "etienn", "ho", "hop", "hopit", "hopita",
    }  # fmt: skip  (2, 3, 5, 6 and 8 letters)
    assert not FacilityKey.objects.filter(dataset_id=first.pk, key="c").exists()  # no key of one letter
    assert FacilityKey.objects.filter(dataset_id=first.pk, key="etien").count() == len(
        [row for row in rows if any(word.startswith("etien") for word in f"{row[1]} {row[2]}".split())]
    )

    second = _import(_renamed(tmp_path))
    assert FacilityKey.objects.filter(dataset_id=second.pk).exists()
    rollback(source="finess")
    assert not FacilityKey.objects.filter(dataset_id=second.pk).exists()
    assert FacilityKey.objects.filter(dataset_id=first.pk).exists()


def test_an_import_leaves_its_word_counts_in_the_cache_for_every_process():
    """The words near spellings and the leading word come from (directory/search/spelling.py) are counted by the
    import (PostgreSQL): a process that searches afterwards reads them from the cache, not from the rows."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from directory.search import spelling
    from directory.search.facilities import FACILITIES

    record = _import(FINESS_SAMPLE)
    spelling.vocabulary.cache_clear()  # a process that has never searched
    with CaptureQueriesContext(connection) as queries:
        words = spelling.vocabulary(FACILITIES, record.pk)
    assert len(queries) == 0
    hopital = len([name for name in Facility.objects.filter(dataset=record).values_list("name_folded", "commune_folded")
                   if "hopital" in " ".join(name).split()])  # fmt: skip
    assert words.prefix_rows("hopital") >= hopital > 0
    assert words.closest("hopitla")[0] == "hopital"  # the trigram index, built on first use
