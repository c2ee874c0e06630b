"""The one error a reader raises: a reason an operator can act on, naming the line and what was expected."""


class FormatError(ValueError):
    pass


def looks_like(first_line: str) -> str:
    """Which known layout a file's first line belongs to, for messages such as "this is an OpenMedic file"."""
    head = first_line.strip().lower()
    if head.startswith("finess;etalab"):
        return "a FINESS establishment extraction (etalab-cs1100507)"
    if head.startswith("atc1;l_atc1") or (head.startswith("atc1;") and ";cip13;" in head):
        return "an OpenMedic yearly file"
    if head.startswith(("structureet;", "geolocalisation;")):
        return "FINESS records without their identification line"
    return "no known layout"
