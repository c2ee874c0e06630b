"""The point-in-time recovery drill (scripts/pitr_drill.sh) runs and recovers exactly the rows written before
the target time, within a deadline. Plain pytest: no Django fixtures."""

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "pitr_drill.sh"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
DEADLINE = 120


def _missing() -> list[str]:
    missing = [str(PG_BIN / tool) for tool in ("initdb", "pg_ctl", "postgres", "psql") if not (PG_BIN / tool).exists()]
    return missing + ([] if shutil.which("pgbackrest") else ["pgbackrest"])


def test_point_in_time_recovery_drill_recovers_exactly_the_rows_before_the_target():
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the PITR drill needs {', '.join(missing)} (.ci/run installs them)")
        pytest.skip(f"the PITR drill needs {', '.join(missing)}: apt-get install postgresql-15 pgbackrest")
    drill = subprocess.Popen(  # noqa: S603
        ["bash", str(SCRIPT)],
        env={**os.environ, "FIRST_ROWS": "321", "SECOND_ROWS": "123", "PG_BIN": str(PG_BIN)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = drill.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        # SIGTERM to the whole group: the script's trap stops its cluster and removes its directory.
        os.killpg(drill.pid, signal.SIGTERM)
        output, _ = drill.communicate(timeout=30)
        pytest.fail(f"the PITR drill took longer than {DEADLINE} s:\n{output}")
    assert drill.returncode == 0, output
    assert "ok: recovered to" in output
    assert "exactly the first 321 rows and none of the 123 after" in output


def test_the_drill_fails_when_the_rows_are_not_exactly_the_first_batch(tmp_path):
    # The script's own check must be able to fail: run its comparison with a wrong expectation.
    text = SCRIPT.read_text()
    assert 'EXPECTED="$FIRST_ROWS 1 $FIRST_ROWS 0"' in text
    assert 'if [ "$FOUND" != "$EXPECTED" ]; then' in text
    check = tmp_path / "check.sh"
    check.write_text(
        "set -euo pipefail\nFIRST_ROWS=321\nFOUND='444 1 444 123'\n"
        + text[text.index('EXPECTED="$FIRST_ROWS'): text.index('step "ok:')]
    )
    result = subprocess.run(["bash", str(check)], capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 1
    assert "FAILED: found rows (count min max second-batch) 444 1 444 123, expected 321 1 321 0" in result.stderr
