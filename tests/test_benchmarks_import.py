"""The benchmarks run from the venv ``make install`` builds (requirements.txt only): no benchmark may import
a test-only package (factory_boy, pytest, ...), directly or through the project's modules.

Each benchmark module is imported in a subprocess in which every installed distribution that
requirements.txt does not bring (its pins and their dependencies, extras included) cannot be imported;
so is every module any benchmark names in an import statement, at the top or inside a function (they
import Django's models lazily, after their database exists).
"""

import ast
import importlib.metadata as metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"

CHILD = r"""
import importlib, importlib.abc, json, os, sys
blocked = set(json.loads(os.environ["BLOCKED_MODULES"]))

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is not installed by requirements.txt (test-only)")
        return None

sys.meta_path.insert(0, Refuse())
sys.path[:0] = [os.environ["ROOT"], os.environ["BENCHMARKS"]]
import django
django.setup()
failures = []
for name in json.loads(os.environ["IMPORTS"]):
    try:
        importlib.import_module(name)
    except Exception as error:
        failures.append(f"{name}: {type(error).__name__}: {error}")
print(json.dumps(failures))
"""


def _runtime_distributions() -> set[str]:
    """requirements.txt's distributions and everything they depend on, with the extras they ask for."""
    wanted: list[tuple[str, frozenset]] = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            wanted.append((requirement.name, frozenset(requirement.extras)))
    seen: dict[str, set] = {}
    while wanted:
        name, extras = wanted.pop()
        key = canonicalize_name(name)
        if key in seen and extras <= seen[key]:
            continue
        seen.setdefault(key, set()).update(extras)
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            environments = [{"extra": extra} for extra in extras | {""}]
            if requirement.marker is None or any(requirement.marker.evaluate(env) for env in environments):
                wanted.append((requirement.name, frozenset(requirement.extras)))
    return set(seen)


def _blocked_modules() -> set[str]:
    runtime = _runtime_distributions()
    blocked = set()
    for module, distributions in metadata.packages_distributions().items():
        if not any(canonicalize_name(d) in runtime for d in distributions):
            blocked.add(module)
    return blocked


def _imported_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_dev_only_packages_are_the_ones_blocked():
    blocked = _blocked_modules()
    # The check would prove nothing if it blocked nothing, or blocked what the application needs.
    assert {"factory", "pytest", "_pytest", "playwright"} <= blocked
    assert not {"django", "celery", "psycopg", "boto3", "numpy", "torch"} & blocked


def test_every_benchmark_imports_without_test_only_packages(tmp_path):
    modules = sorted(path.stem for path in BENCHMARKS.glob("*.py"))
    assert "api_latency" in modules and "pipeline_throughput" in modules
    names = set(modules)
    for path in BENCHMARKS.glob("*.py"):
        names |= {name for name in _imported_names(path) if not re.match(r"^_?bench", name)}
    # The load test's locustfile is read by locust, the load generator itself (requirements-dev.txt; README
    # runs it from the dev venv): the one exception, and no other benchmark may import locust.
    importers = {
        path.stem for path in BENCHMARKS.glob("*.py") if any(n.split(".")[0] == "locust" for n in _imported_names(path))
    }
    assert importers <= {"locustfile"}, importers
    names -= {"locustfile"} | {name for name in names if name.split(".")[0] == "locust"}
    env = {
        **os.environ,
        "BLOCKED_MODULES": json.dumps(sorted(_blocked_modules())),
        "IMPORTS": json.dumps(sorted(names)),
        "ROOT": str(ROOT),
        "BENCHMARKS": str(BENCHMARKS),
        "DJANGO_SETTINGS_MODULE": "medilens.settings",
        "MEDILENS_VAR_DIR": str(tmp_path / "var"),
        "BENCH_STATIC_ROOT": str(tmp_path / "static"),  # _audit_reads_settings reads it
    }
    for key in ("DATABASE_URL", "REDIS_URL", "PYTEST_CURRENT_TEST", "PYTEST_VERSION"):
        env.pop(key, None)
    result = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    failures = json.loads(result.stdout.strip().splitlines()[-1])
    assert failures == []


def test_the_check_refuses_a_benchmark_that_imports_a_factory(tmp_path):
    """The same subprocess, given medilens.testing.factories (which imports factory_boy), reports it."""
    env = {
        **os.environ,
        "BLOCKED_MODULES": json.dumps(sorted(_blocked_modules())),
        "IMPORTS": json.dumps(["medilens.testing.factories"]),
        "ROOT": str(ROOT),
        "BENCHMARKS": str(BENCHMARKS),
        "DJANGO_SETTINGS_MODULE": "medilens.settings",
        "MEDILENS_VAR_DIR": str(tmp_path / "var"),
    }
    for key in ("DATABASE_URL", "REDIS_URL"):
        env.pop(key, None)
    result = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    failures = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(failures) == 1 and "factory is not installed by requirements.txt" in failures[0]
