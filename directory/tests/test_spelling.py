"""Near spellings (PostgreSQL's typo-tolerant search): trigram similarity as pg_trgm computes it, checked by
hand on small words, and which query words are replaced."""

from directory.search.spelling import Vocabulary, trigrams


def test_trigrams_are_padded_as_pg_trgm_pads_them():
    assert trigrams("cat") == {"  c", " ca", "cat", "at "}


def test_the_closest_word_and_its_similarity():
    vocabulary = Vocabulary(["clinique", "pharmacie", "montpellier", "montpelier", "lyon"])
    # "clinqiue" and "clinique" share "  c", " cl", "cli", "lin", "ue " of 9 + 9 trigrams: 5 / (9 + 9 - 5).
    assert vocabulary.closest("clinqiue") == ("clinique", 5 / 13)
    # A word that starts with the query is found as typed: the closest is another one.
    assert vocabulary.closest("montpelier")[0] == "montpellier"
    assert vocabulary.closest("zzz") is None


def test_only_unknown_words_or_strong_near_spellings_are_replaced():
    vocabulary = Vocabulary(["saint", "sainte", "etienne", "montpellier", "montpelier", "clinique"])
    assert vocabulary.corrected(("saint", "etiene")) == ("saint", "etienne")  # "etiene" starts no word
    assert vocabulary.corrected(("montpelier",)) == ("montpellier",)  # a word itself, but 0.77 like another
    assert vocabulary.corrected(("sain", "clinqiue")) == ("sain", "clinique")  # "sain" starts "saint": kept
