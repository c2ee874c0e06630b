import pytest

from directory.text import fold


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Saint-Étienne", "saint etienne"),
        ("CHU DE SAINT-ÉTIENNE  (HÔPITAL NORD)", "chu de saint etienne hopital nord"),
        ("L'Haÿ-les-Roses", "l hay les roses"),
        ("Œuvre des Sœurs", "oeuvre des soeurs"),
        ("ATORVASTATINE 10MG CPR", "atorvastatine 10mg cpr"),
        ("", ""),
        (None, ""),
    ],
)
def test_fold_lowercases_removes_accents_and_punctuation(text, folded):
    assert fold(text) == folded
