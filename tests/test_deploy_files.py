"""Deployment files and README stay consistent with the code (no Docker needed)."""

from __future__ import annotations

import ipaddress
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices

from licenseflow.cli import build_parser
from licenseflow.config import Settings
from workflows.search_attributes import cli_flags

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
ALIASES = {field.alias for field in Settings.model_fields.values() if field.alias} | {
    choice
    for field in Settings.model_fields.values()
    if isinstance(field.validation_alias, AliasChoices)
    for choice in field.validation_alias.choices
    if isinstance(choice, str)
}  # the TLS files also have short names (TEMPORAL_TLS_CA, ...)
TRANSPORT_VARIABLES = (
    "TEMPORAL_TLS",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_SERVER_NAME",
    "TEMPORAL_API_KEY",
    "LICENSEFLOW_ALLOW_PLAINTEXT_TEMPORAL",
    "LICENSEFLOW_TRUSTED_PROXIES",
)
OUR_IMAGE_SERVICES = ("migrate", "worker", "api")


def _subcommands() -> set[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return set(action.choices)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml", reason="pyyaml is needed to parse compose.yaml")
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _dockerfile() -> list[str]:
    """Dockerfile instructions with continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


# ------------------------------------------------------------------ Dockerfile


def test_dockerfile_base_user_and_entrypoint() -> None:
    lines = _dockerfile()
    assert lines[0] == "FROM python:3.11-slim"
    user = [ln.split(None, 1)[1] for ln in lines if ln.startswith("USER ")]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert 'ENTRYPOINT ["licenseflow"]' in lines
    cmd = next(ln for ln in lines if ln.startswith("CMD "))
    assert cmd.split(None, 1)[1].strip('[]"') in _subcommands()


def test_dockerfile_copies_every_package_and_existing_paths() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied: set[str] = set()
    for line in _dockerfile():
        if line.startswith("COPY "):
            *sources, _dest = shlex.split(line)[1:]
            for source in sources:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
                copied.add(source)
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"
    assert {"pyproject.toml", "README.md"} <= copied  # readme is part of the metadata


def test_dockerfile_env_vars_are_settings() -> None:
    names: set[str] = set()
    for line in _dockerfile():
        if line.startswith("ENV "):
            names |= {pair.split("=", 1)[0] for pair in shlex.split(line[4:])}
    ours = {n for n in names if not n.startswith(("PYTHON", "PIP_"))}
    assert ours and ours <= ALIASES, sorted(ours - ALIASES)


# ------------------------------------------------------------------ env example


def test_env_example_keys_are_settings() -> None:
    keys = {
        line.split("=", 1)[0].strip()
        for line in (DEPLOY / "licenseflow.env.example").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    assert {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "DATABASE_URL"} <= keys
    assert keys <= ALIASES, sorted(keys - ALIASES)


# ------------------------------------------------------------------ compose


def test_compose_services_and_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"temporal", "postgres", *OUR_IMAGE_SERVICES} <= set(services)
    for name in OUR_IMAGE_SERVICES:
        svc = services[name]
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (DEPLOY / svc["build"]["context"] / svc["build"]["dockerfile"]).exists()
        assert svc["command"][0] in _subcommands()


def test_compose_env_vars_are_settings(compose: dict[str, Any]) -> None:
    for name in OUR_IMAGE_SERVICES:
        env = compose["services"][name]["environment"]
        assert set(env) <= ALIASES, (name, sorted(set(env) - ALIASES))
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in env["DATABASE_URL"]


def test_compose_ports_bind_loopback(compose: dict[str, Any]) -> None:
    published = [
        (name, str(port))
        for name, svc in compose["services"].items()
        for port in svc.get("ports", [])
    ]
    assert published
    for name, port in published:
        assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_compose_temporal_registers_search_attributes(compose: dict[str, Any]) -> None:
    command = compose["services"]["temporal"]["command"]
    assert command[:2] == ["server", "start-dev"]
    wanted = [f"--search-attribute={pair}" for pair in cli_flags()[1::2]]
    assert all(flag in command for flag in wanted), wanted
    assert "--db-filename=/data/temporal.db" in command
    assert "--sqlite-pragma=journal_mode=wal" in command


def test_env_example_lists_the_transport_variables() -> None:
    text = (DEPLOY / "licenseflow.env.example").read_text()
    for name in TRANSPORT_VARIABLES:
        assert re.search(rf"^#? ?{name}=", text, re.M), f"licenseflow.env.example lacks {name}"
    dsn = re.search(r"^DATABASE_URL=(\S+)$", text, re.M)
    assert dsn and "sslmode=" in dsn.group(1)


# ------------------------------------------------------------------ compose: the TLS edge


def _published(svc: dict[str, Any]) -> list[str]:
    return [str(port) for port in svc.get("ports", [])]


def _interpolate(value: str) -> str:
    """Compose's `${NAME:-default}` as its default, `${NAME:?error}` (required) as a value."""
    required = {
        "LICENSEFLOW_ESIGN_SECRETS": "a-real-webhook-secret",
        "LICENSEFLOW_PAYLOAD_KEYS": "k1:" + "A" * 43 + "=",
    }
    value = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: m.group(2), value)
    return re.sub(r"\$\{(\w+):\?[^}]*\}", lambda m: required[m.group(1)], value)


def test_compose_only_caddy_publishes_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    publishing = {name for name, svc in services.items() if _published(svc)}
    assert publishing == {"caddy"}, "the API, Temporal and Postgres publish no port"
    assert {p.rsplit(":", 1)[1] for p in _published(services["caddy"])} == {"443", "8233"}
    assert not any("7233" in p for svc in services.values() for p in _published(svc))


def test_compose_api_trusts_exactly_caddy(compose: dict[str, Any]) -> None:
    services = compose["services"]
    caddy_networks = services["caddy"]["networks"]
    address = caddy_networks["edge"]["ipv4_address"]
    subnet = compose["networks"]["edge"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet)
    api_env = services["api"]["environment"]
    assert api_env["LICENSEFLOW_TRUSTED_PROXIES"] == address
    trusted = Settings(LICENSEFLOW_TRUSTED_PROXIES=address).trusted_proxy_networks  # type: ignore[call-arg]
    assert [str(n) for n in trusted] == [f"{address}/32"]
    on_edge = {
        name
        for name, svc in services.items()
        if "edge" in (svc.get("networks") or ())  # a list or a mapping of networks
    }
    assert on_edge == {"caddy", "api"}, "nothing else may share Caddy's network"
    assert "ports" not in services["api"]


def test_compose_services_settings_load_in_production(compose: dict[str, Any]) -> None:
    """The worker's and API's environment passes the production checks (the transport
    checks included: plaintext Temporal only with the explicit opt-out)."""
    for name in ("worker", "api"):
        env = {k: _interpolate(str(v)) for k, v in compose["services"][name]["environment"].items()}
        assert env["LICENSEFLOW_ENV"] == "production"
        assert "sslmode=require" in env["DATABASE_URL"]
        settings = Settings(**env)  # type: ignore[arg-type]
        assert settings.allow_plaintext_temporal and not settings.temporal_tls_enabled
        without_opt_out = {
            k: v for k, v in env.items() if k != "LICENSEFLOW_ALLOW_PLAINTEXT_TEMPORAL"
        }
        with pytest.raises(ValueError, match="not loopback and TLS is off"):
            Settings(**without_opt_out)  # type: ignore[arg-type]


def test_compose_postgres_runs_tls(compose: dict[str, Any]) -> None:
    command = compose["services"]["postgres"]["command"]
    options = [command[i + 1] for i, arg in enumerate(command) if arg == "-c"]
    assert "ssl=on" in options
    assert any(o.startswith("ssl_cert_file=") for o in options)
    assert any(o.startswith("ssl_key_file=") for o in options)


def _site_blocks() -> dict[str, str]:
    """The Caddyfile's site blocks by address (global options and comments left out)."""
    text = "\n".join(
        line.split(" #")[0]
        for line in (DEPLOY / "Caddyfile").read_text().splitlines()
        if not line.lstrip().startswith("#")
    )
    blocks, depth, address, body = {}, 0, "", []
    for line in text.splitlines():
        stripped = line.strip()
        if depth == 0 and stripped.endswith("{"):
            address, body = stripped[:-1].strip(), []
        elif depth == 1 and stripped == "}":
            if address:
                blocks[address] = "\n".join(body)
        else:
            body.append(stripped)
        depth += stripped.count("{") - stripped.count("}")
    return blocks


def test_caddyfile_proxies_the_api_and_the_ui(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["caddy"]["image"].startswith("caddy:")
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in services["caddy"]["volumes"]
    blocks = _site_blocks()
    site = "{$LICENSEFLOW_SITE:localhost}"
    assert set(blocks) == {site, f"{site}:8233"}
    api_port = services["api"]["environment"]["LICENSEFLOW_API_PORT"]
    assert re.search(rf"^reverse_proxy api:{api_port}$", blocks[site], re.M)
    ui_port = next(a for a in services["temporal"]["command"] if a.startswith("--ui-port="))
    assert f"reverse_proxy temporal:{ui_port.split('=')[1]}" in blocks[f"{site}:8233"]
    assert "basic_auth" in blocks[f"{site}:8233"] and "basic_auth" not in blocks[site]
    for body in blocks.values():
        assert re.search(r'Strict-Transport-Security "max-age=\d{8,}', body)
        assert "defer" in body  # replaces the API's own header instead of adding a second


def test_compose_ui_and_codec_share_the_site(compose: dict[str, Any]) -> None:
    command = compose["services"]["temporal"]["command"]
    endpoint = next(a.split("=", 1)[1] for a in command if a.startswith("--ui-codec-endpoint="))
    assert _interpolate(endpoint) == "https://localhost/codec"
    origins = compose["services"]["api"]["environment"]["LICENSEFLOW_CODEC_CORS_ORIGINS"]
    assert _interpolate(origins) == "https://localhost:8233"


def test_deploy_readme_is_linked_and_names_the_variables() -> None:
    assert "deploy/README.md" in (ROOT / "README.md").read_text()
    text = (DEPLOY / "README.md").read_text()
    for name in (*TRANSPORT_VARIABLES, "requireClientAuth", "clientCaFiles", "sslmode"):
        assert name in text, name


# ------------------------------------------------------------------ README


def _readme_body(path: str) -> str:
    """The JSON body the README walkthrough POSTs to `path`."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"-X POST \$API" + re.escape(path) + r" -d '(.*?)'", readme, re.S)
    assert match, f"README walkthrough lost its POST {path}"
    return match.group(1)


def test_readme_walkthrough_bodies_are_valid_and_consistent() -> None:
    from domain.approval import ScreeningSettings
    from domain.deal import DealRequest
    from domain.partner import PartnerProfile
    from domain.sales import SalesReport
    from domain.sales_check import why_unlicensed
    from domain.screening import screen_partner

    partner = PartnerProfile.model_validate_json(_readme_body("/v1/partners"))
    deal = DealRequest.model_validate_json(_readme_body("/v1/deals"))
    report = SalesReport.model_validate_json(_readme_body("/v1/deals/moonbear-eu/sales-reports"))

    assert deal.partners == [partner.partner_id]
    assert screen_partner(partner, deal.plan.scope, ScreeningSettings()).passed
    assert not [ln for ln in report.lines if why_unlicensed(ln, deal.plan.scope)]


# ------------------------------------------------------------------ compose.cluster.yaml


@pytest.fixture(scope="module")
def cluster() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml", reason="pyyaml is needed to parse compose.cluster.yaml")
    data = yaml.safe_load((DEPLOY / "compose.cluster.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _depends(svc: dict[str, Any]) -> dict[str, str]:
    """depends_on as {service: condition} (the short list form means service_started)."""
    found = svc.get("depends_on") or {}
    if isinstance(found, list):
        return dict.fromkeys(found, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in found.items()}


def _networks(svc: dict[str, Any]) -> set[str]:
    return set(svc.get("networks") or ())  # a list or a mapping of networks


def _env(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    assert isinstance(env, dict), "environment as a mapping"
    return {k: str(v) for k, v in env.items()}


def _mounted(svc: dict[str, Any], target: str) -> Path:
    """The file of deploy/ a bind mount puts at `target` (it must exist)."""
    for volume in svc.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        if rest.split(":")[0] == target:
            path = (DEPLOY / source).resolve()
            assert path.is_file(), f"{source} is mounted but missing"
            return path
    raise AssertionError(f"nothing mounted at {target}")


CLUSTER_TEMPORAL = ("temporal-postgres", "temporal-schema", "temporal", "temporal-setup")


def test_cluster_services_and_commands(cluster: dict[str, Any]) -> None:
    services = cluster["services"]
    assert {"caddy", "postgres", "temporal-ui", *CLUSTER_TEMPORAL, *OUR_IMAGE_SERVICES} <= set(
        services
    )
    assert cluster["name"] != "licenseflow", "its own project: volumes apart from compose.yaml"
    for name in OUR_IMAGE_SERVICES:
        svc = services[name]
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (DEPLOY / svc["build"]["context"] / svc["build"]["dockerfile"]).exists()
        assert svc["command"][0] in _subcommands()
        assert set(_env(svc)) <= ALIASES, (name, sorted(set(_env(svc)) - ALIASES))


def test_cluster_temporal_persists_in_postgres_over_tls(cluster: dict[str, Any]) -> None:
    services = cluster["services"]
    server = services["temporal"]
    assert server["image"].startswith("temporalio/server:")
    assert "command" not in server, "the image's own entrypoint: no start-dev, no SQLite"
    env = _env(server)
    assert env["DB"] == "postgres12"
    assert env["SQL_TLS_ENABLED"] == "true"
    store = services[env["POSTGRES_SEEDS"]]
    assert store["image"].startswith("postgres:")
    options = [store["command"][i + 1] for i, a in enumerate(store["command"]) if a == "-c"]
    assert "ssl=on" in options
    assert env["POSTGRES_USER"] == _env(store)["POSTGRES_USER"]
    assert env["POSTGRES_PWD"] == _env(store)["POSTGRES_PASSWORD"]
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in store["volumes"])
    # dynamic config is read from a file that must exist
    dynamic = _mounted(server, env["DYNAMIC_CONFIG_FILE_PATH"])
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(dynamic.read_text())["limit.maxIDLength"][0]["value"] == 255
    # the admin tools apply the schema of the server's own release
    version = server["image"].rsplit(":", 1)[1]
    for job in ("temporal-schema", "temporal-setup"):
        assert services[job]["image"] == f"temporalio/admin-tools:{version}"


def test_cluster_history_shards_are_set_explicitly(cluster: dict[str, Any]) -> None:
    shards = int(_env(cluster["services"]["temporal"])["NUM_HISTORY_SHARDS"])
    assert shards >= 512 and shards & (shards - 1) == 0, "a power of two, not the default 4"
    yaml = pytest.importorskip("yaml")
    helm = yaml.safe_load((DEPLOY / "helm" / "temporal-values.yaml").read_text())
    assert helm["server"]["config"]["persistence"]["numHistoryShards"] == shards


def test_cluster_schema_job_runs_before_the_server(cluster: dict[str, Any]) -> None:
    services = cluster["services"]
    schema = services["temporal-schema"]
    env = _env(schema)
    server_env = _env(services["temporal"])
    assert env["SQL_PLUGIN"] == server_env["DB"]
    assert env["SQL_HOST"] == server_env["POSTGRES_SEEDS"]
    assert env["SQL_PASSWORD"] == server_env["POSTGRES_PWD"]
    assert env["SQL_TLS"] == "true"
    assert _depends(schema) == {"temporal-postgres": "service_healthy"}
    assert str(schema.get("restart")) == "no", "a job: exits once done"
    assert _depends(services["temporal"]) == {"temporal-schema": "service_completed_successfully"}
    assert "healthcheck" in services["temporal-postgres"]
    script = _mounted(schema, schema["entrypoint"][-1]).read_text()
    for db, schema_dir in (("temporal", "temporal"), ("temporal_visibility", "visibility")):
        assert f"--db {db} setup-schema -v 0.0" in script
        assert f'--db {db} update-schema -d "$schema/{schema_dir}/versioned"' in script
    assert "schema=/etc/temporal/schema/postgresql/v12" in script


def test_cluster_start_order(cluster: dict[str, Any]) -> None:
    """Postgres, schema, server, namespace and search attributes, then workers and the API."""
    services = cluster["services"]
    graph = {name: set(_depends(svc)) for name, svc in services.items()}

    def before(name: str) -> set[str]:
        seen: set[str] = set()
        todo = list(graph[name])
        while todo:
            dep = todo.pop()
            assert dep in services, f"{name} depends on unknown {dep}"
            if dep not in seen:
                seen.add(dep)
                todo.extend(graph[dep])
        assert name not in seen, f"{name} depends on itself"
        return seen

    for name in ("worker", "api"):
        assert {"migrate", "postgres", *CLUSTER_TEMPORAL} <= before(name)
        assert _depends(services[name])["temporal-setup"] == "service_completed_successfully"
    assert _depends(services["temporal-setup"]) == {"temporal": "service_healthy"}
    assert "healthcheck" in services["temporal"]


def test_cluster_worker_is_the_scaling_knob(cluster: dict[str, Any]) -> None:
    services = cluster["services"]
    worker = services["worker"]
    for key in ("container_name", "ports", "hostname", "volumes", "expose"):
        assert key not in worker, f"a worker with {key} cannot be scaled"
    assert not any(
        isinstance(spec, dict) and ("ipv4_address" in spec or "aliases" in spec)
        for spec in (worker["networks"].values() if isinstance(worker["networks"], dict) else ())
    )
    assert not [n for n, svc in services.items() if "container_name" in svc]
    replicas = _interpolate(str(worker["deploy"]["replicas"]))
    assert int(replicas) >= 2
    assert "LICENSEFLOW_WORKERS" in str(worker["deploy"]["replicas"])


def test_cluster_one_task_queue_namespace_and_address(cluster: dict[str, Any]) -> None:
    from licenseflow import TASK_QUEUE

    services = cluster["services"]
    ours = [_env(services[name]) for name in OUR_IMAGE_SERVICES]
    assert {env["LICENSEFLOW_TASK_QUEUE"] for env in ours} == {TASK_QUEUE}
    setup = _env(services["temporal-setup"])
    assert {env["TEMPORAL_NAMESPACE"] for env in ours} == {setup["TEMPORAL_NAMESPACE"]}
    assert {env["TEMPORAL_ADDRESS"] for env in ours} == {setup["TEMPORAL_ADDRESS"]}
    host, port = setup["TEMPORAL_ADDRESS"].split(":")
    assert host == "temporal" and port == "7233"  # the server's frontend default
    for name in ("worker", "api", "temporal-setup"):
        assert "backend" in _networks(services[name])
    assert "backend" in _networks(services["temporal"])


def test_cluster_search_attributes_match_the_code(cluster: dict[str, Any]) -> None:
    setup = cluster["services"]["temporal-setup"]
    assert setup["command"] == cli_flags()[1::2]
    script = _mounted(setup, setup["entrypoint"][-1]).read_text()
    assert "search-attribute create" in script and "namespace create" in script
    assert _env(setup)["NAMESPACE_RETENTION"]


def test_cluster_only_caddy_publishes_ports(cluster: dict[str, Any]) -> None:
    services = cluster["services"]
    publishing = {name for name, svc in services.items() if _published(svc)}
    assert publishing == {"caddy"}, "Temporal, the UI, both databases publish no port"
    assert all(p.startswith("127.0.0.1:") for p in _published(services["caddy"]))
    assert not any("7233" in p for svc in services.values() for p in _published(svc))
    assert not any("expose" in svc for svc in services.values())


def test_cluster_networks_keep_temporal_apart(cluster: dict[str, Any]) -> None:
    services = cluster["services"]
    on = {
        net: {n for n, svc in services.items() if net in _networks(svc)}
        for net in cluster["networks"]
    }
    assert on["temporal-db"] == {"temporal-postgres", "temporal-schema", "temporal"}
    assert on["edge"] == {"caddy", "api"}
    assert on["temporal-ui"] == {"caddy", "temporal-ui"}
    assert on["temporal-frontend"] == {"temporal-ui", "temporal"}
    assert "temporal" not in {
        n for n in services if _networks(services[n]) & _networks(services["caddy"])
    }
    # the Caddyfile proxies the UI to temporal:8233: on Caddy's UI network, that is the UI
    ui = services["temporal-ui"]
    assert "temporal" in ui["networks"]["temporal-ui"]["aliases"]
    assert _env(ui)["TEMPORAL_UI_PORT"] == "8233"
    assert re.search(
        r"^reverse_proxy temporal:8233", _site_blocks()["{$LICENSEFLOW_SITE:localhost}:8233"], re.M
    )
    host = _env(ui)["TEMPORAL_ADDRESS"].split(":")[0]
    assert host in services["temporal"]["networks"]["temporal-frontend"]["aliases"]
    assert _env(ui)["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"
    assert _interpolate(_env(ui)["TEMPORAL_CODEC_ENDPOINT"]) == "https://localhost/codec"


def test_cluster_keeps_compose_edge_and_database_tls(
    compose: dict[str, Any], cluster: dict[str, Any]
) -> None:
    """Caddy, the API's trusted proxy and Postgres TLS exactly as compose.yaml has them."""
    ours, theirs = cluster["services"], compose["services"]
    assert ours["caddy"] == theirs["caddy"]
    assert cluster["networks"]["edge"] == compose["networks"]["edge"]
    for name in OUR_IMAGE_SERVICES:
        env, base = _env(ours[name]), _env(theirs[name])
        assert {k: v for k, v in env.items() if k != "LICENSEFLOW_TASK_QUEUE"} == base, name
    base_cmd = theirs["postgres"]["command"]
    assert ours["postgres"]["command"][: len(base_cmd)] == base_cmd
    for name in ("worker", "api"):
        env = {k: _interpolate(v) for k, v in _env(ours[name]).items()}
        settings = Settings(**env)  # type: ignore[arg-type]
        assert settings.task_queue == env["LICENSEFLOW_TASK_QUEUE"]


def test_cluster_scripts_are_valid_sh() -> None:
    import shutil
    import subprocess

    sh = shutil.which("sh")
    assert sh
    for script in (DEPLOY / "temporal").glob("*.sh"):
        done = subprocess.run([sh, "-n", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, (script.name, done.stderr)
        assert script.read_text().startswith("#!/bin/sh\n")
        assert "set -eu" in script.read_text()


def test_deploy_readme_documents_scaling_out() -> None:
    text = (DEPLOY / "README.md").read_text()
    for phrase in ("compose.cluster.yaml", "--scale worker=", "NUM_HISTORY_SHARDS", "Message-ID"):
        assert phrase in text, phrase
    assert "helm/temporal-values.yaml" in text and "untested" in text.lower()
