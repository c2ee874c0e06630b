"""Folding text for search: the same function fills the `*_folded` columns and folds a query.

fold("Saint-Étienne") == "saint etienne": lower-case, accents removed, French ligatures spelled out,
anything that is not a letter or a digit turned into one space.
"""

import re
import unicodedata

# NFKD does not decompose these letters into a base letter and an accent.
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "đ": "d", "ł": "l"})
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str | None) -> str:
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_LIGATURES))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NOT_WORD.sub(" ", bare).strip()


# La Poste's routing lines (FINESS `ligneacheminement`) and short names abbreviate "SAINT": "42055 ST ETIENNE".
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}


def fold_for_index(text: str | None) -> str:
    """What a `*_folded` column stores: fold(text), preceded by its spelled-out form when it abbreviates
    "saint" ("st etienne" -> "saint etienne st etienne"), so both "saint etienne" and "st etienne" find it."""
    folded = fold(text)
    expanded = " ".join(_ABBREVIATIONS.get(word, word) for word in folded.split())
    return folded if expanded == folded else f"{expanded} {folded}"
