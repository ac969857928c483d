"""Deployment files and README stay consistent with the code (no Docker needed)."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from licenseflow.cli import build_parser
from licenseflow.config import Settings
from workflows.search_attributes import cli_flags

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
ALIASES = {field.alias for field in Settings.model_fields.values() if field.alias}
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
