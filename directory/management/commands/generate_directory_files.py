"""`manage.py generate_directory_files OUTDIR`: full-size FINESS and OpenMedic files for benchmarks."""

from pathlib import Path

from django.core.management.base import BaseCommand

from directory.generate import write_finess, write_openmedic


class Command(BaseCommand):
    help = "Write a FINESS extraction and an OpenMedic year of benchmark size (made-up content, real layouts)."

    def add_arguments(self, parser):
        parser.add_argument("outdir")
        parser.add_argument("--establishments", type=int, default=100_000)
        parser.add_argument("--openmedic-rows", type=int, default=2_000_000)
        parser.add_argument("--medicines", type=int, default=12_000, help="distinct CIP13 codes")
        parser.add_argument("--year", type=int, default=2024)

    def handle(self, *args, outdir, establishments, openmedic_rows, medicines, year, **options):
        directory = Path(outdir)
        directory.mkdir(parents=True, exist_ok=True)
        finess = write_finess(directory / "etalab-cs1100507-stock-generated.csv", establishments)
        openmedic = write_openmedic(directory / f"OPEN_MEDIC_{year}.CSV", openmedic_rows, medicines)
        for path in (finess, openmedic):
            self.stdout.write(f"{path} ({path.stat().st_size:,} bytes)")
