"""Full-size files in the publishers' formats, for benchmarks: a FINESS extraction (100 000 establishments by
default) and an OpenMedic year (2 000 000 rows). Written line by line to disk: memory stays flat.

Made-up content in the real layouts (see formats/); never used by the tests as truth.
"""

import random
from pathlib import Path

from pyproj import Transformer

from .formats.openmedic import COLUMNS
from .regions import OVERSEAS_DEPARTMENTS, REGION_OF_DEPARTMENT

_WORDS = ["SAINT-ÉTIENNE", "BEAUSÉJOUR", "LES CÈDRES", "DU PARC", "JEAN MOULIN", "PASTEUR", "LA ROSERAIE", "NOTRE-DAME",
          "SAINTE-ANNE", "LES TILLEULS", "DU LAC", "MONTBÉLIARD", "CHÂTEAU", "LA FORÊT", "DES ÎLES", "SAINT-JOSEPH"]
_KINDS = [("355", "Centre Hospitalier (C.H.)", "1102", "Centres Hospitaliers", "CENTRE HOSPITALIER"),
          ("365", "Etablissement de Soins Pluridisciplinaire", "1110", "Etablissements de Soins de Courte Durée",
           "CLINIQUE"),
          ("124", "Centre de Santé", "2206", "Centres de Santé", "CENTRE DE SANTÉ"),
          ("620", "Pharmacie d'Officine", "3101", "Pharmacies d'Officine", "PHARMACIE"),
          ("500", "EHPAD", "4401", "Etablissements pour Personnes Agées", "EHPAD"),
          ("610", "Laboratoire de Biologie Médicale", "3201", "Laboratoires", "LABORATOIRE")]
# Overseas: (FINESS department, WGS 84 centre, EPSG code, the system name the records give).
_OVERSEAS = [("9A", (16.25, -61.55), 5490, "UTM_N20"), ("9B", (14.64, -61.02), 5490, "UTM_N20"),
             ("9C", (4.93, -52.33), 2972, "UTM_N22"), ("9D", (-21.10, 55.50), 2975, "UTM_S40"),
             ("9F", (-12.80, 45.15), 4471, "UTM_S38")]
_METROPOLITAN = sorted(code for code in REGION_OF_DEPARTMENT if code[:2] != "97")


def _commune(rng: random.Random) -> str:
    prefix, joint = rng.choice(["SAINT-", "LE ", "LA ", ""]), rng.choice(["SUR-", "LÈS-", ""])
    return f"{prefix}{rng.choice(_WORDS)}-{joint}{rng.randint(1, 400)}"


def _establishment(rng: random.Random, number: str, department: str, kind: tuple, commune: str) -> str:
    name = f"{kind[4]} {rng.choice(_WORDS)} {number[-4:]}"[:38]
    postcode = (OVERSEAS_DEPARTMENTS.get(department, department).replace("A", "0").replace("B", "0") + "000")[:5]
    fields = ["structureet", number, f"{number[:3]}9{number[4:]}", name, f"{name} - {commune}", "", "",
              str(rng.randint(1, 200)), "RUE", rng.choice(_WORDS), "", "", f"{rng.randint(1, 999):03d}", department,
              "DEPARTEMENT " + department, f"{postcode} {commune}", f"0{rng.randint(100000000, 599999999)}", "",
              kind[0], kind[1], kind[2], kind[3], "", "8610Z", "03", "ARS", "", "", "2001-01-01", "2001-01-01",
              "2024-11-20", ""]
    return ";".join(fields)


def write_finess(path: Path, establishments: int = 100_000, seed: int = 18) -> Path:
    rng = random.Random(seed)
    lambert = Transformer.from_crs(4326, 2154, always_xy=True)
    utm = {code: Transformer.from_crs(4326, code, always_xy=True) for _, _, code, _ in _OVERSEAS}
    points = []
    with path.open("w", encoding="cp1252", newline="") as out:
        out.write("finess;etalab;95;2024-12-01\r\n")
        for index in range(establishments):
            overseas = _OVERSEAS[index % len(_OVERSEAS)] if index % 50 == 0 else None
            department = overseas[0] if overseas else rng.choice(_METROPOLITAN)
            number = f"{(OVERSEAS_DEPARTMENTS.get(department, department + '0'))[:3]}{index:06d}"
            out.write(_establishment(rng, number, department, rng.choice(_KINDS), _commune(rng)) + "\r\n")
            if rng.random() < 0.05:
                continue  # some establishments have no geolocalisation, as in the real file
            if overseas:
                (latitude, longitude), code, system = overseas[1], overseas[2], overseas[3]
                x, y = utm[code].transform(longitude + rng.uniform(-0.1, 0.1), latitude + rng.uniform(-0.1, 0.1))
            else:
                system = "LAMBERT_93"
                x, y = lambert.transform(rng.uniform(-1.0, 7.0), rng.uniform(43.5, 49.5))
            source = f"1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,{system}"
            points.append(f"geolocalisation;{number};{x:.1f};{y:.1f};{source};2024-11-20")
            if len(points) >= 10_000:
                _spill(path, points)
        _spill(path, points)
    _append_points(path)
    return path


def _spill(path: Path, points: list[str]) -> None:
    """The geolocalisation section comes after every establishment: keep it in a side file meanwhile."""
    with path.with_suffix(".geo").open("a", encoding="cp1252", newline="") as side:
        side.write("".join(point + "\r\n" for point in points))
    points.clear()


def _append_points(path: Path) -> None:
    side = path.with_suffix(".geo")
    if side.exists():
        with path.open("ab") as out, side.open("rb") as source:
            while chunk := source.read(1024 * 1024):
                out.write(chunk)
        side.unlink()


def _ean13(first12: str) -> str:
    total = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


def _medicines(rng: random.Random, count: int) -> list[str]:
    medicines = []
    for index in range(count):
        group, subgroup = rng.choice("ABCDGHJLMNPRSV"), rng.randint(1, 16)
        atc5 = f"{group}{subgroup:02d}{rng.choice('ABCDE')}{rng.choice('ABCDEFG')}{rng.randint(1, 30):02d}"
        levels = [atc5[:1], atc5[:3], atc5[:4], atc5[:5], atc5]
        labels = [f"NIVEAU {level}" for level in levels[:4]] + [f"SUBSTANCE {rng.choice(_WORDS)} {atc5}"]
        atc = [value for pair in zip(levels, labels, strict=True) for value in pair]
        maker = rng.choice(["BIOGARAN", "ARROW", "SANDOZ", "TEVA"])
        name = f"{labels[-1].split()[1]} {maker} {rng.randint(1, 100) * 5} MG CPR"
        generic = rng.choice(["0", "1"])
        medicines.append(";".join(atc + [_ean13(f"34009{index:07d}"), name, generic, str(rng.randint(0, 1500))]))
    return medicines


def write_openmedic(path: Path, rows: int = 2_000_000, medicines: int = 12_000, seed: int = 18) -> Path:
    """`rows` rows over `medicines` distinct CIP13 codes (a real year has about 15 000)."""
    rng = random.Random(seed)
    prefixes = _medicines(rng, medicines)
    with path.open("w", encoding="cp1252", newline="") as out:
        out.write(";".join(COLUMNS) + "\r\n")
        for index in range(rows):
            boxes = rng.randint(1, 500)
            base = boxes * rng.uniform(1.0, 50.0)
            reimbursed, base_text = f"{base * 0.65:.2f}".replace(".", ","), f"{base:.2f}".replace(".", ",")
            out.write(
                f"{prefixes[index % medicines]};{rng.choice(('0', '20', '60', '99'))};{rng.choice('129')};"
                f"{rng.choice(('11', '24', '84', '93', '99'))};{rng.choice(('1', '22', '90', '99'))};{boxes};"
                f"{reimbursed};{base_text}\r\n"
            )
    return path
