"""docker-compose.yml's scale profile (README "Scale-out, metrics and logs"), checked without Docker: what the
compose-spec schema (tests/test_compose.py) cannot see. Plain pytest, like test_compose.py."""

import re
from pathlib import Path

import pytest
import yaml

from tests.test_compose import COMPOSE, broken_copy, depends_on_conditions, environment_mapping

SCALE_PROFILE = "scale"
QUEUES = {"default", "webhooks", "inference"}
NGINX_UPSTREAM_SERVER = re.compile(r"^\s*server\s+([A-Za-z0-9_.-]+):(\d+)\b", re.MULTILINE)


def bind_sources(service: dict) -> list[str]:
    """Host paths a service mounts (./relative ones), from short or long volume syntax."""
    sources = []
    for volume in service.get("volumes") or []:
        source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
        if source.startswith("."):
            sources.append(source)
    return sources


def _command_words(service: dict) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [word for part in command for word in str(part).split()]


def _queues(service: dict) -> set[str]:
    words = _command_words(service)
    if "-Q" not in words:
        return set()
    return set(words[words.index("-Q") + 1].split(","))


def scale_problems(compose_path: Path) -> list[str]:
    """What the scale profile must hold: the proxy's config mounted from a file that exists and naming a web
    service of the profile on the port it binds; two or more web and worker replicas; every queue consumed;
    web replicas through PgBouncer in transaction mode with server-side cursors off; a broker that persists."""
    document = yaml.safe_load(compose_path.read_text()) or {}
    services: dict = document.get("services") or {}
    scaled = {name: s or {} for name, s in services.items() if SCALE_PROFILE in ((s or {}).get("profiles") or [])}
    problems: list[str] = []
    for name, service in scaled.items():
        for source in bind_sources(service):
            if not (compose_path.parent / source).exists():
                problems.append(f"{name}: mounts {source}, which does not exist")
    web = {name: s for name, s in scaled.items() if "gunicorn" in _command_words(s)}
    workers = {name: s for name, s in scaled.items() if "worker" in _command_words(s)}
    replicas = lambda group: sum((s.get("deploy") or {}).get("replicas", 1) for s in group.values())  # noqa: E731
    if replicas(web) < 2:
        problems.append("scale: fewer than two web replicas")
    if replicas(workers) < 2:
        problems.append("scale: fewer than two worker replicas")
    for name, service in web.items():
        if service.get("ports"):
            problems.append(f"{name}: a replicated web service publishes a port (replicas would clash)")
        environment = environment_mapping(service)
        if "@pgbouncer:" not in (environment.get("DATABASE_URL") or ""):
            problems.append(f"{name}: DATABASE_URL does not go through pgbouncer")
        if environment.get("DATABASE_DISABLE_SERVER_SIDE_CURSORS") != "true":
            problems.append(f"{name}: server-side cursors stay on behind PgBouncer's transaction pooling")
    missing_queues = QUEUES - set().union(*(_queues(s) for s in workers.values()))
    if missing_queues:
        problems.append(f"scale: no worker consumes {', '.join(sorted(missing_queues))}")
    pooler = scaled.get("pgbouncer") or {}
    if environment_mapping(pooler).get("POOL_MODE") != "transaction":
        problems.append("pgbouncer: POOL_MODE is not transaction")
    if "--appendonly" not in _command_words(services.get("redis") or {}):
        problems.append("redis: no append-only file (queued tasks would not survive a restart)")
    problems += proxy_problems(compose_path, scaled, web)
    return problems


def proxy_problems(compose_path: Path, scaled: dict, web: dict) -> list[str]:
    proxy = scaled.get("proxy")
    if proxy is None:
        return ["scale: no proxy service"]
    problems = []
    for source in bind_sources(proxy):
        path = compose_path.parent / source
        if not path.is_file():
            continue
        text = path.read_text()
        for host, port in NGINX_UPSTREAM_SERVER.findall(text):
            if host not in web:
                problems.append(f"proxy: upstream {host} is not a web service of the scale profile")
            elif f"0.0.0.0:{port}" not in " ".join(_command_words(web[host])):
                problems.append(f"proxy: upstream {host}:{port} is not the port {host} binds")
        if not re.search(r"location = /metrics \{\s*return 404;", text):
            problems.append("proxy: /metrics is reachable through the proxy")
    if not depends_on_conditions(proxy):
        problems.append("proxy: starts before the web replicas")
    return problems


def test_the_scale_profile_runs_two_web_and_two_worker_replicas_behind_a_proxy() -> None:
    assert scale_problems(COMPOSE) == []
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert services["web-replica"]["deploy"]["replicas"] == 2
    assert services["worker-default"]["deploy"]["replicas"] == 2
    # The profile, not the default: "docker compose up" alone runs one of each.
    assert "profiles" not in services["web"] and "profiles" not in services["worker"]


def _unmounted_proxy_config(document: dict) -> None:
    document["services"]["proxy"]["volumes"] = ["./docker/nginx/missing.conf:/etc/nginx/conf.d/default.conf:ro"]


def _one_web_replica(document: dict) -> None:
    document["services"]["web-replica"]["deploy"]["replicas"] = 1


def _session_pooling(document: dict) -> None:
    document["services"]["pgbouncer"]["environment"]["POOL_MODE"] = "session"


def _inference_unconsumed(document: dict) -> None:
    del document["services"]["worker-inference"]


def _web_replica_straight_to_postgres(document: dict) -> None:
    environment = document["services"]["web-replica"]["environment"]
    environment["DATABASE_URL"] = environment["DATABASE_URL"].replace("@pgbouncer:", "@postgres:")


def _upstream_renamed(document: dict) -> None:
    document["services"]["web-pool"] = document["services"].pop("web-replica")
    document["services"]["proxy"]["depends_on"] = {"web-pool": {"condition": "service_healthy"}}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_unmounted_proxy_config, "proxy: mounts ./docker/nginx/missing.conf, which does not exist"),
        (_one_web_replica, "scale: fewer than two web replicas"),
        (_session_pooling, "pgbouncer: POOL_MODE is not transaction"),
        (_inference_unconsumed, "scale: no worker consumes inference"),
        (_web_replica_straight_to_postgres, "web-replica: DATABASE_URL does not go through pgbouncer"),
        (_upstream_renamed, "proxy: upstream web-replica is not a web service of the scale profile"),
    ],
)
def test_each_broken_scale_profile_is_reported(tmp_path: Path, change, expected: str) -> None:
    path = broken_copy(tmp_path, change)
    assert expected in scale_problems(path)
