import pytest

from directory.text import fold, fold_for_index


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


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("ST ETIENNE CEDEX 2", "saint etienne cedex 2 st etienne cedex 2"),
        ("STE FOY LES LYON", "sainte foy les lyon ste foy les lyon"),
        ("SAINT-ÉTIENNE", "saint etienne"),
        ("STRASBOURG", "strasbourg"),
    ],
)
def test_the_stored_form_spells_out_saint_so_both_spellings_find_it(text, stored):
    assert fold_for_index(text) == stored
