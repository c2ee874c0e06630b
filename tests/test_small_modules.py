"""DESIGN.md's "Small modules": no function over McCabe complexity 15 (ruff's C901, on in pyproject.toml,
so `make lint` refuses one) and no module over 500 lines, tests and migrations aside."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
MAX_LINES = 500
# Over the limit, each split by its own piece of work: keep this list shrinking.
OVERSIZE: dict[str, str] = {}


def ruff() -> str:
    candidate = Path(sys.executable).parent / "ruff"
    found = str(candidate) if candidate.is_file() else shutil.which("ruff")
    assert found, "ruff is not installed (requirements-dev.txt)"
    return found


def branching(count: int) -> str:
    """A function of McCabe complexity ``count + 1``: ``count`` if statements in a row."""
    body = "".join(f"    if value == {n}:\n        return {n}\n" for n in range(count))
    return f"def choose(value):\n{body}    return -1\n"


def lint(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    module = tmp_path / "module.py"
    module.write_text(source)
    return subprocess.run(
        [ruff(), "check", "--no-cache", "--config", str(BASE_DIR / "pyproject.toml"), "--output-format", "concise",
         str(module)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_lint_configuration_refuses_a_function_over_complexity_15(tmp_path):
    over = lint(tmp_path, branching(15))
    assert over.returncode == 1 and "C901 `choose` is too complex (16 > 15)" in over.stdout, over.stdout
    at_limit = lint(tmp_path, branching(14))
    assert at_limit.returncode == 0, at_limit.stdout


def test_no_function_of_the_project_is_over_complexity_15():
    checked = subprocess.run(
        [ruff(), "check", "--no-cache", "--select", "C901", "--output-format", "concise", "."],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_no_module_is_over_500_lines_tests_and_migrations_aside():
    tracked = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=BASE_DIR, capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    assert tracked, "not a git checkout"
    modules = [name for name in tracked if not re.search(r"(^|/)(tests?|migrations)/", name)]
    over = {}
    for name in modules:
        path = BASE_DIR / name
        if path.is_file() and name not in OVERSIZE:
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                over[name] = lines
    assert over == {}, f"split these by idea: {over}"
