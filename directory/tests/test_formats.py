"""The readers, on the shipped samples: values checked by hand, coordinates against published definitions."""

import io
import zipfile
from decimal import Decimal

import pytest

from directory.formats import finess, openmedic
from directory.formats.errors import FormatError
from directory.geo import CoordinateError, system_of, to_wgs84

from .conftest import FINESS_SAMPLE, OPENMEDIC_SAMPLE, sample_lines


def _finess_records(data: bytes) -> list:
    return [record for _, record in finess.read(io.BytesIO(data))]


def test_finess_sample_has_establishments_and_their_geolocations():
    records = _finess_records(FINESS_SAMPLE.read_bytes())
    establishments = [record for record in records if isinstance(record, dict)]
    points = [record for record in records if isinstance(record, finess.Geolocation)]
    assert (len(establishments), len(points)) == (211, 191)
    north = next(record for record in establishments if record["rs"] == "CHU DE SAINT-ÉTIENNE HÔPITAL NORD")
    assert north["ligneacheminement"] == "42055 SAINT-ÉTIENNE CEDEX 2"  # Windows-1252 É read as É
    assert (north["departement"], north["commune"], north["categetab"]) == ("42", "218", "355")


def test_lambert93_false_origin_is_at_its_published_latitude_and_longitude():
    # EPSG:2154 (RGF93 v1 / Lambert-93): false origin at 46°30'N 3°E, false easting 700 000 m, northing 6 600 000 m.
    latitude, longitude = to_wgs84(700000.0, 6600000.0, 2154)
    assert latitude == pytest.approx(46.5, abs=1e-9) and longitude == pytest.approx(3.0, abs=1e-9)


def test_a_utm_20n_point_on_the_central_meridian_has_longitude_63_west():
    # EPSG:5490 (RGAF09 / UTM zone 20N): natural origin on 63°W with a false easting of 500 000 m.
    latitude, longitude = to_wgs84(500000.0, 1980000.0, 5490)
    assert longitude == pytest.approx(-63.0, abs=1e-9)
    assert 17.5 < latitude < 18.2  # about 1 980 km north of the equator (Saint-Barthélemy's latitude)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93", ("LAMBERT_93", 2154)),
        ("1,ATLASANTE,96,BAN,EPSG:2154 RGF93 / Lambert-93 (Métropole)", ("LAMBERT_93", 2154)),
        ("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,UTM_N20", ("UTM_N20", 5490)),
        ("2,ATLASANTE,96,BAN,EPSG:5490 RGAF09/UTM Zone 20N (Antilles)", ("UTM_N20", 5490)),
        ("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,UTM_N22", ("UTM_N22", 2972)),
        ("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,UTM_S40", ("UTM_S40", 2975)),
        ("2,ATLASANTE,100,BDADRESSE,EPSG:4471 RGM04/UTM zone 38S (Mayotte)", ("UTM_S38", 4471)),
        ("2,ATLASANTE,90,BAN,WGS84/UTM zone 21N (St-Pierre-et-Miquelon)", ("UTM_N21", 32621)),
        ("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,GAUSS_LABORDE", None),
    ],
)
def test_the_coordinate_system_is_read_from_each_record(source, expected):
    assert system_of(source) == expected


def test_swapped_coordinates_are_refused_as_outside_their_system():
    with pytest.raises(CoordinateError, match="outside the area"):
        to_wgs84(6600000.0, 700000.0, 2154)


def test_openmedic_rows_of_one_cip13_are_read_with_decimal_commas():
    rows = [row for _, row in openmedic.read(io.BytesIO(OPENMEDIC_SAMPLE.read_bytes()))]
    assert len(rows) == 399
    tahor = [row for row in rows if row["CIP13"] == "3400930000069"]
    # The sample's three TAHOR rows, summed by hand: 120 + 45 + 15 boxes; 1 234,50 + 10,25 + 0,25 euros.
    assert sum(row["BOITES"] for row in tahor) == 180
    assert sum(row["REM"] for row in tahor) == Decimal("1245.00")
    assert sum(row["BSE"] for row in tahor) == Decimal("1311.30")
    assert {(row["ATC4"], row["L_ATC4"], row["ATC5"], row["L_ATC5"]) for row in tahor} == {
        ("C10AA", "INHIBITEURS DE L'HMG COA REDUCTASE", "C10AA05", "ATORVASTATINE")
    }


def test_a_zipped_openmedic_file_is_read_like_the_csv():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("OPEN_MEDIC_2024.CSV", OPENMEDIC_SAMPLE.read_bytes())
    archive.seek(0)
    assert sum(1 for _ in openmedic.read(archive)) == 399


def test_finess_reader_given_an_openmedic_file_names_the_layout():
    with pytest.raises(FormatError, match="identification line.*OpenMedic"):
        _finess_records(OPENMEDIC_SAMPLE.read_bytes())


def test_openmedic_reader_given_a_finess_file_names_the_layout():
    with pytest.raises(FormatError, match="lacks the OpenMedic column.*FINESS establishment extraction"):
        list(openmedic.read(io.BytesIO(FINESS_SAMPLE.read_bytes())))


def test_a_record_with_the_wrong_field_count_is_named():
    lines = sample_lines(FINESS_SAMPLE)
    lines[3] = lines[3] + ";extra"
    data = ("\r\n".join(lines) + "\r\n").encode("cp1252")
    with pytest.raises(FormatError, match=r"line 4: a 'structureet' record has 32 fields, this one has 33"):
        _finess_records(data)


def test_a_file_cut_in_the_middle_of_a_record_says_truncated():
    data = FINESS_SAMPLE.read_bytes()
    with pytest.raises(FormatError, match="truncated"):
        _finess_records(data[: len(data) // 2])


def test_an_unknown_record_type_is_named():
    lines = sample_lines(FINESS_SAMPLE)
    lines.insert(5, "equipementsocial;010000001;x")
    with pytest.raises(FormatError, match="line 6: unknown record type 'equipementsocial'"):
        _finess_records(("\r\n".join(lines) + "\r\n").encode("cp1252"))


def test_an_openmedic_row_with_text_for_boxes_is_named():
    lines = sample_lines(OPENMEDIC_SAMPLE)
    fields = lines[2].split(";")
    fields[18] = "douze"
    lines[2] = ";".join(fields)
    with pytest.raises(FormatError, match="line 3: BOITES 'douze' is not a number"):
        list(openmedic.read(io.BytesIO(("\r\n".join(lines) + "\r\n").encode("cp1252"))))
