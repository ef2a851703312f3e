"""The deployment files agree with the code: the compose file runs commands our CLI has, sets
only settings the service reads, starts things in an order that exists, builds an image from
files that exist, and the runbook names the admin commands that exist."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer.main
import yaml
from pydantic import TypeAdapter
from typer.testing import CliRunner

from api.routes.health import router as health_router
from cli.main import app as cli_app
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
SECRET_WORDS = ("PASSWORD", "PWD", "SECRET", "KEYS", "TOKEN")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


def ours(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services that run the service's own image (built from deploy/Dockerfile)."""
    return {n: s for n, s in services.items() if (s.get("build") or {}).get("dockerfile") == "deploy/Dockerfile"}


def env(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(k): str(v) for k, v in raw.items()}


def interpolated(value: str) -> str:
    """A compose value with ``${VAR:-default}`` as its default and ``${VAR:?...}`` as a stand-in."""
    value = re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)
    return re.sub(r"\$\{[A-Z0-9_]+:\?[^}]*\}", "required", value)


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def running(services: dict[str, dict[str, Any]], command: str) -> list[str]:
    return sorted(n for n, s in ours(services).items() if command_of(s)[:1] == [command])


def cli_commands(group: object) -> dict[str, object]:
    """The subcommands of a command group of the CLI, by name."""
    commands = getattr(group, "commands", None)
    assert isinstance(commands, dict), group
    return dict(commands)


def test_the_programme_runs_on_a_temporal_cluster_two_apis_two_workers_and_the_bank(
    services: dict[str, dict[str, Any]],
) -> None:
    expected = {"temporal-db", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui"}
    expected |= {"db", "migrate", "proxy", "bank-sim"}
    assert expected <= set(services), expected - set(services)
    assert services["temporal"]["image"].startswith("temporalio/server:")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert len(running(services, "api")) >= 2
    assert len(running(services, "worker")) >= 2
    assert running(services, "migrate") == ["migrate"]
    assert running(services, "bank-sim") == ["bank-sim"]


def test_workers_and_apis_share_one_task_queue_namespace_and_cluster(services: dict[str, dict[str, Any]]) -> None:
    temporal_users = running(services, "worker") + running(services, "api")
    for key in ("UNIONCARD_TASK_QUEUE", "UNIONCARD_TEMPORAL_NAMESPACE", "UNIONCARD_TEMPORAL_ADDRESS"):
        values = {env(services[name]).get(key) for name in temporal_users}
        assert len(values) == 1 and None not in values, (key, values)
    queue = env(services[temporal_users[0]])["UNIONCARD_TASK_QUEUE"]
    assert "$" not in queue, "the queue is part of the deployment, not of an environment file"


def test_every_command_of_our_image_is_a_command_of_the_cli(services: dict[str, dict[str, Any]]) -> None:
    commands = cli_commands(typer.main.get_command(cli_app))
    runner = CliRunner()
    assert ours(services)
    for name, service in ours(services).items():
        assert service.get("entrypoint") in (None, ["unioncard"]), name
        command = command_of(service)
        assert command and command[0] in commands, (name, command, sorted(commands))
        result = runner.invoke(cli_app, [*command, "--help"])
        assert result.exit_code == 0, (name, result.output)


def test_the_image_starts_the_unioncard_console_script() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    entrypoint = re.findall(r"^ENTRYPOINT\s+(.+)$", text, flags=re.MULTILINE)
    assert entrypoint and json.loads(entrypoint[-1]) == ["unioncard"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["unioncard"] == "cli.main:app"
    assert re.search(r"^USER\s+(?!root\b)\S+", text, flags=re.MULTILINE), "the image runs as a non-root user"


def test_every_unioncard_variable_is_a_setting_with_a_valid_value(services: dict[str, dict[str, Any]]) -> None:
    seen = 0
    for name, service in services.items():
        for key, value in env(service).items():
            if not key.startswith("UNIONCARD_"):
                continue
            field = key.removeprefix("UNIONCARD_").lower()
            assert field in Settings.model_fields, f"{name}: {key} is not a setting"
            seen += 1
            annotation = Settings.model_fields[field].annotation
            if "${" not in value and annotation is not None:
                TypeAdapter(annotation).validate_python(value)
    assert seen > 20


def test_secrets_come_from_the_environment_file_never_from_the_compose_file(
    services: dict[str, dict[str, Any]],
) -> None:
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    for name, service in services.items():
        for key, value in env(service).items():
            if any(word in key for word in SECRET_WORDS):
                # required (${NAME:?...}) or optional with nothing written here (${NAME:-})
                from_env = re.findall(r"\$\{([A-Z0-9_]+)(?::\?[^}]*|:-)\}", value)
                assert from_env and re.fullmatch(r"(\$\{[^}]*\})+", value), (
                    f"{name}: {key} must come from deploy/.env (${{NAME:?...}} or ${{NAME:-}}), not be written here"
                )
                assert set(from_env) <= documented, (name, key, from_env)
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    for variable in set(re.findall(r"\$\{([A-Z0-9_]+)[:}]", text)):
        assert variable in documented, f"{variable} is not explained in deploy/.env.example"
    assert ".env" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()


def test_every_dependency_exists_with_a_condition_it_can_reach(services: dict[str, dict[str, Any]]) -> None:
    graph: dict[str, set[str]] = {}
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {d: {"condition": "service_started"} for d in depends}
        graph[name] = set(depends)
        for target, rule in depends.items():
            assert target in services, f"{name} depends on {target}, which is not a service"
            condition = rule.get("condition", "service_started")
            assert condition in CONDITIONS, (name, target, condition)
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{target} has no health check for {name} to wait on"
            if condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} is waited for as a one-shot job"
    order: list[str] = []
    while len(order) < len(graph):
        ready = sorted(n for n, deps in graph.items() if n not in order and deps <= set(order))
        assert ready, f"a dependency cycle among {sorted(set(graph) - set(order))}"
        order += ready
    for late, early in (("api-1", "migrate"), ("worker-1", "migrate"), ("proxy", "api-2"), ("temporal", "temporal-db")):
        assert order.index(early) < order.index(late), (early, late)


def test_every_address_a_service_reaches_is_a_service_of_the_file(services: dict[str, dict[str, Any]]) -> None:
    urls = ("UNIONCARD_DATABASE_URL", "UNIONCARD_BANK_URL", "UNIONCARD_CALLBACK_URL")
    addresses = ("UNIONCARD_TEMPORAL_ADDRESS", "TEMPORAL_ADDRESS", "POSTGRES_SEEDS")
    checked = 0
    for name, service in services.items():
        for key, value in env(service).items():
            if key in urls:
                host = urlsplit(interpolated(value)).hostname
            elif key in addresses:
                host = interpolated(value).split(":")[0]
            else:
                continue
            assert host in services, f"{name}: {key} points at {host}, not a service"
            checked += 1
    assert checked >= 10


def test_the_health_checks_ask_what_each_process_serves(services: dict[str, dict[str, Any]]) -> None:
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    health_paths = {getattr(r, "path", None) for r in health_router.routes}
    for name in running(services, "api") + running(services, "worker") + running(services, "bank-sim"):
        service = services[name]
        probe = " ".join(service["healthcheck"]["test"])
        port = int(re.findall(r"127\.0\.0\.1:(\d+)", probe)[0])
        values = env(service)
        if command_of(service)[0] == "api":
            assert port == int(values.get("UNIONCARD_API_PORT", defaults["api_port"]))
            assert "/ready" in probe and "/ready" in health_paths
        elif command_of(service)[0] == "worker":
            assert port == int(values.get("UNIONCARD_WORKER_METRICS_PORT", defaults["worker_metrics_port"]))
        else:
            assert port == int(values.get("UNIONCARD_BANK_SIM_PORT", defaults["bank_sim_port"]))


def test_the_proxy_balances_over_every_api_replica(services: dict[str, dict[str, Any]]) -> None:
    caddyfile = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    upstreams = re.findall(r"^\s*reverse_proxy\s+(.+?)\s*\{", caddyfile, flags=re.MULTILINE)
    assert len(upstreams) == 1
    targets = {u.split(":")[0]: int(u.split(":")[1]) for u in upstreams[0].split()}
    apis = running(services, "api")
    assert sorted(targets) == apis
    for api in apis:
        assert targets[api] == int(env(services[api])["UNIONCARD_API_PORT"])
        assert services["proxy"]["depends_on"][api]["condition"] == "service_healthy"


def dockerfile_sources(text: str) -> list[str]:
    """The build-context paths every COPY without ``--from`` reads."""
    sources: list[str] = []
    for line in text.replace("\\\n", " ").splitlines():
        words = line.split()
        if not words or words[0].upper() != "COPY" or any(w.startswith("--from") for w in words):
            continue
        sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources


def test_the_image_is_built_from_files_that_exist_and_hold_every_package(services: dict[str, dict[str, Any]]) -> None:
    contexts = {(DEPLOY / s["build"]["context"]).resolve() for s in ours(services).values()}
    assert contexts == {ROOT}
    sources = dockerfile_sources((DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert not any(fnmatch.fnmatch(source, p) for p in ignored), f"COPY {source} is excluded by .dockerignore"
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    packages = {p.rstrip("*") for p in tool["packages"]["find"]["include"]}
    modules = {f"{m}.py" for m in tool["py-modules"]}
    assert packages | modules | {"pyproject.toml", "README.md"} <= set(sources)


def test_files_mounted_from_the_deploy_folder_exist(services: dict[str, dict[str, Any]]) -> None:
    mounted = 0
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source = str(volume).split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).is_file(), f"{name} mounts {source}, which is missing"
                mounted += 1
    assert mounted >= 4


def test_the_runbook_names_the_admin_commands_that_exist() -> None:
    runbook = (DEPLOY / "runbook.md").read_text(encoding="utf-8")
    for needed in ("GET /admin/workflows", "GET /admin/workflows/{id}", "/repairs", "unioncard admin"):
        assert needed in runbook, needed
    commands = cli_commands(typer.main.get_command(cli_app))
    admin = cli_commands(commands["admin"])
    named = set(re.findall(r"(?:^|`)admin ([a-z-]+)", runbook, flags=re.MULTILINE))
    assert {"stuck", "show", "retry"} <= named <= set(admin)
    for command in set(re.findall(r"\bunioncard ([a-z][a-z-]+)", runbook)):
        assert command in commands, f"the runbook runs `unioncard {command}`, which the CLI lacks"
    for section in ("Scaling out", "Rotating keys", "Backup and restore", "Upgrading workflow code", "Stuck workflows"):
        assert f"## {section}" in runbook, section
