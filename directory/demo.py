"""The demo's reference directory: the shipped samples, imported once (a re-run finds them current and does nothing)."""

from pathlib import Path

from .fetch import measure
from .models import DirectoryImport, DirectorySource, Source
from .services import ImportRequest, run_import

SAMPLES = Path(__file__).resolve().parent / "samples"
SAMPLE_FILES = {
    Source.FINESS: SAMPLES / "etalab-cs1100507-stock-20241201-0400.csv",
    Source.OPENMEDIC: SAMPLES / "OPEN_MEDIC_2024.CSV",
}


def seed_samples() -> dict[str, str]:
    """Import each sample unless it is already current; returns what happened per source."""
    outcome = {}
    for source, path in SAMPLE_FILES.items():
        _, checksum = measure(path)
        current = DirectorySource.objects.filter(source=source, current__checksum=checksum).exists()
        if current:
            outcome[source] = "already current"
            continue
        record = run_import(request=ImportRequest(source=source, file=path))
        if record.status != DirectoryImport.Status.SUCCEEDED:
            raise RuntimeError(f"the {source} sample did not import: {record.reason}")
        outcome[source] = f"imported ({record.rows} rows)"
    return outcome
