"""One way in (DESIGN.md rules 2 and 10): audit events are written by services, in the transaction of
the change they describe. Outside services modules only the sign-in receivers (Django announces sign-in
through signals only) and admin's generic auditing (admin saves every model through one place) may call
``audit.record``; a view, task, form or command that records an event itself is a finding."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRECTORIES = {".venv", "var", "staticfiles", "node_modules", "migrations", "tests", "test-results", ".git"}

# (path, enclosing function): the places outside services modules allowed to record.
ALLOWED = {
    ("audit/receivers.py", "_on_login"),
    ("audit/receivers.py", "_on_logout"),
    ("audit/receivers.py", "_on_login_failed"),
    ("audit/receivers.py", "_on_lockout"),
    ("medilens/admin.py", "AuditedModelAdmin._audit"),
}
# Places still waiting to move their events into a service. Empty: the kiosk's start and exit events are
# written by kiosk/services.py. Kept, empty, so that a new exception must be written here and justified.
AWAITING_MODALITIES_SERVICES: set[tuple[str, str]] = set()


def _is_services_module(relative: str) -> bool:
    """A services module, or the audit app's own machinery (its read-audit, bulk-access alert and restore
    checkpoint write events as the audit trail's own services; audit.record is defined there)."""
    parts = Path(relative).parts
    name = parts[-1]
    services = name == "services.py" or name.endswith("_services.py") or "services" in parts[:-1]
    return services or (parts[0] == "audit" and "tests" not in parts)


def _record_names(tree: ast.Module) -> set[str]:
    """Local names bound to audit's record function (``from audit import record``, ``from . import
    record`` inside audit/, ``from audit.services import record as write``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in {"audit", "audit.services", "services", None}:
            names |= {alias.asname or alias.name for alias in node.names if alias.name == "record"}
    return names


def record_calls(source: str) -> list[tuple[str, int]]:
    """(enclosing Class.function, line) of every call of audit's record in ``source``."""
    tree = ast.parse(source)
    bare = _record_names(tree)
    found = []

    def visit(node, where: list[str]):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                visit(child, [*where, child.name])
                continue
            if isinstance(child, ast.Call):
                function = child.func
                qualified = (
                    isinstance(function, ast.Attribute)
                    and function.attr == "record"
                    and isinstance(function.value, ast.Name)
                    and function.value.id in {"audit", "audit_services"}
                )
                if qualified or (isinstance(function, ast.Name) and function.id in bare):
                    found.append((".".join(where), child.lineno))
            visit(child, where)

    visit(tree, [])
    return found


def project_modules():
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if SKIPPED_DIRECTORIES.intersection(relative.parts[:-1]) or relative.name.startswith("test_"):
            continue
        if relative.parts[0] == "benchmarks" or relative.name == "conftest.py":
            continue
        yield relative.as_posix(), path.read_text()


def test_the_scan_finds_every_way_of_calling_record():
    source = (
        "import audit\nfrom audit import record\nfrom audit.services import record as write\n"
        "def view(request):\n    audit.record(action='a.b')\n"
        "class V:\n    def post(self):\n        record(action='a.b')\n        write(action='a.b')\n"
        "def other():\n    audit_record = 1\n    something.record(action='a.b')\n"
    )
    assert record_calls(source) == [("view", 5), ("V.post", 8), ("V.post", 9)]


def test_audit_events_are_written_by_services_only():
    offenders = []
    for relative, source in project_modules():
        if _is_services_module(relative) or relative == "audit/__init__.py":
            continue
        for where, line in record_calls(source):
            if (relative, where) not in ALLOWED | AWAITING_MODALITIES_SERVICES:
                offenders.append(f"{relative}:{line} ({where})")
    assert offenders == [], "audit.record called outside services: " + ", ".join(offenders)


def test_the_allow_list_names_only_places_that_exist():
    """A stale entry (moved code, a renamed function) would silently allow the next call placed there."""
    present = {(relative, where) for relative, source in project_modules() for where, _ in record_calls(source)}
    assert ALLOWED | AWAITING_MODALITIES_SERVICES <= present
