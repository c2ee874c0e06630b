"""Reference directory import (issue 18): duration and peak RSS of `manage.py import_directory` for a full-size
OpenMedic year (2,000,000 rows) and FINESS extraction (100,000 establishments), on PostgreSQL and on the
embedded SQLite; and the same at half size, to show memory stays flat as the file grows.

    .venv/bin/python benchmarks/directory_import.py [--openmedic-rows 2000000] [--establishments 100000]
                                                    [--medicines 12000] [--skip-sqlite]

The files are written by directory.generate (the publishers' layouts, made-up content) into a temporary
directory. Each import runs as its own `manage.py import_directory` process; its peak RSS is that process's
ru_maxrss (os.wait4). The baseline is the RSS of a process that only loads Django and the directory app.
The half-size file has the same number of distinct medicines (CIP13 codes) as the full one, as two real
years would: the aggregation's memory grows with medicines, not rows. DIRECTORY_IMPORT_TOLERANCE is raised
for the run, since the full file follows the half one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import ROOT, Bench, machine, table  # noqa: E402

BASELINE = "import django; django.setup(); import directory.services, directory.facilities, directory.medicines"


def _run(arguments: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, last line of output) of one child process."""
    began = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and manage.py)
        [sys.executable, *arguments], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(arguments)} failed:\n{output[-2000:]}")
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return seconds, usage.ru_maxrss / 1024, lines[-1] if lines else ""


def _files(directory: Path, arguments) -> dict[str, Path]:
    from directory.generate import write_finess, write_openmedic

    began = time.perf_counter()
    files = {
        "openmedic half": write_openmedic(directory / "half" / "OPEN_MEDIC_2023.CSV", arguments.openmedic_rows // 2,
                                          arguments.medicines) if _mkdir(directory / "half") else None,
        "openmedic full": write_openmedic(directory / "OPEN_MEDIC_2024.CSV", arguments.openmedic_rows,
                                          arguments.medicines, seed=19),
        "finess half": write_finess(directory / "half" / "finess.csv", arguments.establishments // 2),
        "finess full": write_finess(directory / "finess.csv", arguments.establishments, seed=19),
    }
    sizes = ", ".join(f"{name} {path.stat().st_size / 1e6:.0f} MB" for name, path in files.items())
    print(f"[files] written in {time.perf_counter() - began:.0f} s: {sizes}", flush=True)
    return files


def _mkdir(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return True


def _measure(label: str, env: dict[str, str], files: dict[str, Path]) -> list[list]:
    rows = []
    _, baseline, _ = _run(["-c", BASELINE], env)
    rows.append([label, "baseline (Django + directory loaded)", "", "", f"{baseline:.0f}"])
    for name in ("openmedic half", "openmedic full", "finess half", "finess full"):
        source = name.split()[0]
        seconds, rss, line = _run(["manage.py", "import_directory", source, "--file", str(files[name]),
                                   "--no-progress"], env)
        print(f"[{label}] {name}: {seconds:.1f} s, peak RSS {rss:.0f} MB. {line[:160]}", flush=True)
        megabytes = files[name].stat().st_size / 1e6
        rows.append([label, name, f"{megabytes:.0f} MB", f"{seconds:.1f}", f"{rss:.0f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--openmedic-rows", type=int, default=2_000_000)
    parser.add_argument("--establishments", type=int, default=100_000)
    parser.add_argument("--medicines", type=int, default=12_000)
    parser.add_argument("--skip-sqlite", action="store_true")
    arguments = parser.parse_args()
    print(f"[start] {machine()}", flush=True)
    with Bench("directory_import", extra_env={"DIRECTORY_IMPORT_TOLERANCE": "100"}) as bench:
        files = _files(bench.tmp / "files", arguments)
        env = {**os.environ, **bench.env}
        rows = _measure("PostgreSQL", env, files)
        if not arguments.skip_sqlite:
            embedded = {key: value for key, value in env.items() if key not in ("DATABASE_URL", "REDIS_URL")}
            embedded["MEDILENS_VAR_DIR"] = str(bench.tmp / "embedded-var")
            began = time.perf_counter()
            _run(["manage.py", "migrate", "--verbosity", "0"], embedded)
            print(f"[SQLite] migrated in {time.perf_counter() - began:.0f} s", flush=True)
            rows += _measure("SQLite", embedded, files)
        print(table(["database", "import", "file", "seconds", "peak RSS MB"], rows, title="\nDirectory import"))
    print(f"[end] {machine()}", flush=True)


if __name__ == "__main__":
    main()
