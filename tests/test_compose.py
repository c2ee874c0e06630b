"""docker-compose.yml, .env.example and the Dockerfile, checked without Docker.

The compose-spec schema (check-jsonschema, offline) checks the shape; ``compose_problems`` below checks
what the schema cannot: cross-references between services, volumes, variables and files, and that no
secret is written into the compose file. Plain pytest: no Django fixtures, so it runs with
``-p no:django`` as well as under pytest-django.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"

# What the app reads (medilens/settings.py); each must reach the app services, from the compose file's
# environment or from .env (whose template is .env.example).
APP_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_S3_PUBLIC_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_S3_REGION_NAME",
    "EMAIL_URL",
    "DEFAULT_FROM_EMAIL",
    "DJANGO_SECURE_SSL_REDIRECT",
    "BACKUP_ENCRYPTION_KEY",
    "PURGE_LEDGER_BUCKET_NAME",
)
APP_SERVICES = ("web", "worker", "beat")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY", re.IGNORECASE)
# A whole value that is one ${VAR}, ${VAR:-default}, ${VAR:?message} (or -, ?, +) reference.
WHOLE_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?+][^}]*)?\}$")
# "$$" is compose's escape for a literal "$" (left to the container's shell), not a reference.
REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)|\$([A-Za-z_][A-Za-z0-9_]*)")
URL_PASSWORD = re.compile(r"://[^/@\s:]*:([^@\s]+)@")
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def referenced_variables(text: str) -> set[str]:
    """Names interpolated by compose: ${VAR...} and $VAR, not the $$ escape."""
    names = set()
    for match in REFERENCE.finditer(text):
        name = match.group(1) or match.group(2)
        if name:
            names.add(name)
    return names


def env_file_entries(path: Path) -> tuple[dict[str, str], set[str]]:
    """(VAR -> value for each assignment, names that have a comment line directly above them)."""
    values: dict[str, str] = {}
    documented: set[str] = set()
    previous = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, separator, value = line.partition("=")
            if separator:
                values[name.strip()] = value.strip()
                if previous.startswith("#"):
                    documented.add(name.strip())
        previous = line
    return values, documented


def environment_mapping(service: dict) -> dict[str, str | None]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        pairs = (item.partition("=") for item in environment)
        return {name: (value if separator else None) for name, separator, value in pairs}
    return {name: (None if value is None else str(value)) for name, value in environment.items()}


def depends_on_conditions(service: dict) -> dict[str, str]:
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        return dict.fromkeys(depends_on, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in depends_on.items()}


def named_volumes(service: dict) -> set[str]:
    names = set()
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source = volume.split(":", 1)[0] if ":" in volume else ""
            volume_type = "volume"
        else:
            source = volume.get("source", "")
            volume_type = volume.get("type", "volume")
        if volume_type == "volume" and source and not source.startswith(("/", ".", "~", "$")):
            names.add(source)
    return names


def env_files(service: dict) -> list[str]:
    value = service.get("env_file")
    if value is None:
        return []
    entries = value if isinstance(value, list) else [value]
    return [entry if isinstance(entry, str) else entry.get("path", "") for entry in entries]


def compose_problems(compose_path: Path, env_example_path: Path) -> list[str]:
    """What is wrong with a compose file that the compose-spec schema does not see; [] when nothing."""
    text = compose_path.read_text()
    document = yaml.safe_load(text) or {}
    services: dict = document.get("services") or {}
    declared_volumes = set((document.get("volumes") or {}).keys())
    example, _ = env_file_entries(env_example_path)
    problems: list[str] = []

    if not services:
        problems.append("no services")
    for name in sorted(referenced_variables(text) - set(example)):
        problems.append(
            f"${{{name}}} is used in {compose_path.name} but missing from {env_example_path.name}"
        )

    used_volumes: set[str] = set()
    for name, service in services.items():
        service = service or {}
        problems += dependency_problems(name, service, services)
        volumes = named_volumes(service)
        used_volumes |= volumes
        for volume in sorted(volumes - declared_volumes):
            problems.append(f"{name}: named volume {volume!r} is not declared under top-level volumes")
        problems += environment_problems(name, service)
        problems += build_problems(name, service, compose_path.parent)

    for volume in sorted(declared_volumes - used_volumes):
        problems.append(f"volume {volume!r} is declared but no service uses it")
    return problems


def dependency_problems(name: str, service: dict, services: dict) -> list[str]:
    """depends_on entries that name a missing service, or wait for a state the target never reaches."""
    problems = []
    for target, condition in depends_on_conditions(service).items():
        if target not in services:
            problems.append(f"{name}: depends_on names a missing service {target!r}")
            continue
        if condition not in CONDITIONS:
            problems.append(f"{name}: unknown depends_on condition {condition!r} for {target}")
        target_service = services[target] or {}
        healthcheck = target_service.get("healthcheck") or {}
        if condition == "service_healthy" and (not healthcheck.get("test") or healthcheck.get("disable")):
            problems.append(f"{name}: waits for {target} to be healthy, but {target} has no healthcheck")
        if condition == "service_completed_successfully" and target_service.get("restart") in (
            "always",
            "unless-stopped",
        ):
            problems.append(f"{name}: waits for {target} to complete, but {target} restarts forever")
    return problems


def environment_problems(name: str, service: dict) -> list[str]:
    """An env_file other than .env, and secrets written as literals instead of ${...} references."""
    problems = []
    for path in env_files(service):
        if path != ".env":
            problems.append(f"{name}: env_file {path!r} is not .env")

    for variable, value in environment_mapping(service).items():
        if value is None:
            continue
        if SECRET_NAME.search(variable) and not WHOLE_REFERENCE.match(value):
            problems.append(f"{name}: {variable} is a literal, not a ${{...}} reference")
        for password in URL_PASSWORD.findall(value):
            if not WHOLE_REFERENCE.match(password):
                problems.append(f"{name}: {variable} has a literal password in its URL")
    return problems


def build_problems(name: str, service: dict, directory: Path) -> list[str]:
    """A build whose Dockerfile is not where the compose file says."""
    build = service.get("build")
    if build is None:
        return []
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    if not (directory / context / dockerfile).is_file():
        return [f"{name}: builds from {context}/{dockerfile}, which does not exist"]
    return []


def check_jsonschema() -> str:
    candidate = Path(sys.executable).parent / "check-jsonschema"
    found = str(candidate) if candidate.is_file() else shutil.which("check-jsonschema")
    assert found, "check-jsonschema is not installed (requirements-dev.txt)"
    return found


def validate_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [check_jsonschema(), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- the real files ---------------------------------------------------------------------------------


def test_compose_file_matches_the_compose_spec_schema() -> None:
    result = validate_schema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_cross_references_hold() -> None:
    assert compose_problems(COMPOSE, ENV_EXAMPLE) == []


def test_app_services_get_every_variable_the_app_reads() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    example, _ = env_file_entries(ENV_EXAMPLE)
    for name in APP_SERVICES:
        service = services[name]
        assert env_files(service) == [".env"], name
        provided = set(environment_mapping(service)) | set(example)
        assert sorted(set(APP_VARIABLES) - provided) == [], name


def test_env_example_documents_each_variable_and_holds_no_secret() -> None:
    values, documented = env_file_entries(ENV_EXAMPLE)
    assert set(APP_VARIABLES) <= set(values)
    assert sorted(set(values) - documented) == [], "each variable needs a one-line comment above it"
    for name, value in values.items():
        if SECRET_NAME.search(name):
            assert value.startswith("change-me"), f"{name} must hold a change-me placeholder"
        for password in URL_PASSWORD.findall(value):
            assert password.startswith("change-me"), f"{name} must hold a change-me placeholder password"


def dockerfile_instructions(path: Path) -> dict[str, list[str]]:
    """Instruction name -> its arguments, in order, with continuation lines joined."""
    by_name: dict[str, list[str]] = {}
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or (line.startswith("#") and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        name, _, arguments = (pending + line).partition(" ")
        by_name.setdefault(name.upper(), []).append(arguments.strip())
        pending = ""
    return by_name


def test_dockerfile_runs_as_non_root_and_copies_every_app() -> None:
    by_name = dockerfile_instructions(DOCKERFILE)

    assert by_name["FROM"] == ["python:3.11-slim"]
    assert by_name["EXPOSE"] == ["8000"]
    assert by_name["USER"][-1] not in ("root", "0")
    assert not any(SECRET_NAME.search(env) for env in by_name.get("ENV", [])), "no secret in the image env"

    copied = set()
    for arguments in by_name["COPY"]:
        paths = [token for token in arguments.split() if not token.startswith("--")]
        copied |= {source.rstrip("/") for source in paths[:-1]}
    # Every top-level Python package is code the image needs, except the tests and benchmarks.
    packages = {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in {"tests", "benchmarks"} and not path.parent.name.startswith(".")
    }
    assert sorted(packages - copied) == [], "add the missing package to the Dockerfile's COPY lines"
    assert {"manage.py", "requirements.txt", "templates", "static"} <= copied


def _command_settings(service: dict) -> dict[str, str]:
    """The ``-c name=value`` settings of a postgres command line."""
    command = service.get("command") or []
    return dict(command[i + 1].split("=", 1) for i, word in enumerate(command[:-1]) if word == "-c")


def test_the_pitr_profile_archives_wal_with_pgbackrest() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    postgres, pgbackrest = services["postgres"], services["pgbackrest"]
    settings = _command_settings(postgres)
    assert settings["wal_level"] == "replica" and settings["archive_mode"] == "on"
    assert settings["archive_command"] == "/usr/local/bin/pgbackrest-archive %p"
    assert int(settings["archive_timeout"]) <= 300
    archive_wal = (ROOT / "docker" / "postgres" / "pgbackrest-archive").read_text()
    assert "pgbackrest --stanza=medilens archive-push" in archive_wal
    # The profile, not the default: "docker compose up" alone starts no backup service.
    assert pgbackrest["profiles"] == ["pitr"] and "profiles" not in postgres
    assert depends_on_conditions(pgbackrest) == {"postgres": "service_healthy"}
    shared = {"postgres-data", "postgres-socket", "pgbackrest-repo"}
    assert shared <= named_volumes(postgres) and shared <= named_volumes(pgbackrest)
    script = "\n".join(pgbackrest["command"])
    assert "stanza-create" in script and "touch /var/lib/pgbackrest/.archiving" in script
    assert "--type=" in script and "backup" in script
    conf = (ROOT / "docker" / "postgres" / "pgbackrest.conf").read_text()
    assert "[medilens]" in conf and "repo1-retention-full=" in conf


# --- the checkers fail on broken input ---------------------------------------------------------------


def broken_copy(tmp_path: Path, change) -> Path:
    """A copy of the real compose file (beside copies of .env.example and the Dockerfile) with one
    change applied to its parsed document."""
    document = yaml.safe_load(COMPOSE.read_text())
    change(document)
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env.example")
    shutil.copy(DOCKERFILE, tmp_path / "Dockerfile")
    shutil.copytree(ROOT / "docker", tmp_path / "docker")
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_an_unchanged_copy_has_no_problem(tmp_path: Path) -> None:
    # The control for the cases below: the copy itself (re-serialised YAML) is clean.
    path = broken_copy(tmp_path, lambda document: None)
    assert compose_problems(path, tmp_path / ".env.example") == []


def test_depends_on_a_missing_service_is_reported(tmp_path: Path) -> None:
    def add_missing_dependency(document: dict) -> None:
        document["services"]["web"]["depends_on"]["elasticsearch"] = {"condition": "service_healthy"}

    path = broken_copy(tmp_path, add_missing_dependency)
    assert compose_problems(path, tmp_path / ".env.example") == [
        "web: depends_on names a missing service 'elasticsearch'"
    ]


def _undeclared_volume(document: dict) -> None:
    document["services"]["redis"]["volumes"].append("redis-backups:/backups")


def _literal_password(document: dict) -> None:
    document["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] = "hunter2hunter2"


def _literal_url_password(document: dict) -> None:
    document["services"]["worker"]["environment"] = {"DATABASE_URL": "postgres://medilens:pw@postgres/x"}


def _variable_not_in_example(document: dict) -> None:
    document["services"]["beat"]["environment"] = {"SENTRY_DSN": "${SENTRY_DSN}"}


def _other_env_file(document: dict) -> None:
    document["services"]["worker"]["env_file"] = "prod.env"


def _missing_dockerfile(document: dict) -> None:
    document["services"]["web"]["build"] = {"context": ".", "dockerfile": "Dockerfile.missing"}


def _healthy_without_healthcheck(document: dict) -> None:
    del document["services"]["redis"]["healthcheck"]


def _unused_volume(document: dict) -> None:
    document["volumes"]["orphan-data"] = None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_undeclared_volume, "redis: named volume 'redis-backups' is not declared under top-level volumes"),
        (_literal_password, "postgres: POSTGRES_PASSWORD is a literal, not a ${...} reference"),
        (_literal_url_password, "worker: DATABASE_URL has a literal password in its URL"),
        (
            _variable_not_in_example,
            "${SENTRY_DSN} is used in docker-compose.yml but missing from .env.example",
        ),
        (_other_env_file, "worker: env_file 'prod.env' is not .env"),
        (_missing_dockerfile, "web: builds from ./Dockerfile.missing, which does not exist"),
        (_healthy_without_healthcheck, "web: waits for redis to be healthy, but redis has no healthcheck"),
        (_unused_volume, "volume 'orphan-data' is declared but no service uses it"),
    ],
)
def test_each_broken_reference_is_reported(tmp_path: Path, change, expected: str) -> None:
    path = broken_copy(tmp_path, change)
    assert expected in compose_problems(path, tmp_path / ".env.example")


def test_schema_check_fails_on_an_invalid_file(tmp_path: Path) -> None:
    def bad_condition(document: dict) -> None:
        document["services"]["web"]["depends_on"]["postgres"]["condition"] = "service_ready"

    result = validate_schema(broken_copy(tmp_path, bad_condition))
    assert result.returncode != 0
    assert "service_ready" in result.stdout + result.stderr


def test_escaped_dollars_are_not_references() -> None:
    assert referenced_variables("a ${A} $B $${C} $$D ${E:-x} ${F:?set F}") == {"A", "B", "E", "F"}

