"""Which results offer "Find a facility" and which recommendations link to a medicine class: decided by the
modality, the risk level and the words of the recommendation."""

from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from directory.clinical_links import facility_link, medicine_links

from .search_data import load_facilities

pytestmark = pytest.mark.django_db


def _result(modality, risk_level):
    return SimpleNamespace(modality=modality, risk_level=risk_level, patient_id="5a1d2f0e-0000-4000-8000-000000000001")


def test_high_risk_cvd_and_ecg_results_offer_hospitals_of_the_current_import():
    load_facilities({"name": "CH", "commune": "Roanne", "category_code": "355"},
                    {"name": "Pharmacie", "commune": "Roanne", "category_code": "620"})
    for modality in ("cvd_risk", "cardiology"):
        link = facility_link(_result(modality, "high"))
        query = parse_qs(urlsplit(link["url"]).query)
        assert query == {"patient": ["5a1d2f0e-0000-4000-8000-000000000001"], "category": ["355"]}


@pytest.mark.parametrize(("modality", "level"), [("cvd_risk", "intermediate"), ("cardiology", "borderline"),
                                                  ("retinal", "high"), ("cvd_risk", "")])
def test_other_results_offer_no_facility_search(modality, level):
    assert facility_link(_result(modality, level)) is None


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("High risk: start a statin to lower LDL-C by 50% or more.", ["C10AA"]),
        ("Lifestyle changes plus antihypertensive medication.", ["C02,C03,C07,C08,C09"]),
        ("If atrial fibrillation is confirmed, consider an anticoagulant.", ["B01AA,B01AE,B01AF"]),
        ("Statins and ezetimibe.", ["C10AA", "C10AX09"]),
        ("Automated ECG measurements are preliminary.", []),
        ("Review QT-prolonging drugs.", []),
    ],
)
def test_a_recommendation_links_to_the_atc_codes_of_the_classes_it_names(text, codes):
    links = medicine_links(text)
    assert [parse_qs(urlsplit(link["url"]).query)["atc"][0] for link in links] == codes
