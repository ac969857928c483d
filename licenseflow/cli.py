"""`licenseflow` command line: dev, worker, api, migrate, token create."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Literal, NoReturn

from domain.ids import ID_PATTERN

if TYPE_CHECKING:
    from licenseflow.config import Settings

ROLES = ("admin", "owner", "approver", "partner", "ops", "finance")
_IDENTIFIER = re.compile(ID_PATTERN)


class CliError(Exception):
    """A user-facing failure: printed as `licenseflow: error: ...`, exit code 1."""


def _identifier(kind: str) -> Callable[[str], str]:
    """An argparse `type=` that accepts only stable identifiers."""

    def parse(value: str) -> str:
        value = value.strip()
        if not _IDENTIFIER.match(value):
            raise argparse.ArgumentTypeError(
                f"invalid {kind} {value!r}: use lowercase letters, digits, '.', '_' or '-' "
                "(max 63 chars, starting with a letter or digit)"
            )
        return value

    parse.__name__ = kind
    return parse


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="licenseflow",
        description="Licenseflow: brand/IP licensing deals as durable Temporal workflows.",
    )
    parser.add_argument(
        "--log-format", choices=("console", "json"), help="override LICENSEFLOW_LOG_FORMAT"
    )
    parser.add_argument("--log-level", help="override LICENSEFLOW_LOG_LEVEL (DEBUG, INFO, ...)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sub.add_parser(
        "dev",
        help="run the whole stack locally (Temporal dev server, Postgres, worker, API)",
        description="Start Temporal (unless TEMPORAL_ADDRESS points elsewhere), embedded "
        "Postgres (unless DATABASE_URL is set), migrations, dev tokens, one worker and the API.",
    )
    sub.add_parser("worker", help="run a Temporal worker on the licensing task queue")
    api = sub.add_parser("api", help="run the HTTP API (uvicorn)")
    api.add_argument("--host", help="bind address (default LICENSEFLOW_API_HOST)")
    api.add_argument("--port", type=int, help="port (default LICENSEFLOW_API_PORT)")
    sub.add_parser("migrate", help="apply pending database migrations")

    token = sub.add_parser("token", help="manage API bearer tokens")
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = token_sub.add_parser(
        "create",
        help="create a bearer token and print it to stdout",
        description="Create an API token. Only its hash is stored: save the printed value.",
    )
    create.add_argument("--user", required=True, type=_identifier("user"), help="user name")
    create.add_argument(
        "--role",
        dest="roles",
        action="append",
        required=True,
        choices=ROLES,
        help="role to grant; repeat for several",
    )
    create.add_argument(
        "--partner", type=_identifier("partner id"), help="partner id (required for role partner)"
    )
    create.set_defaults(subparser=create)
    return parser


def _validate(args: argparse.Namespace) -> None:
    """Cross-argument checks argparse cannot express; exits with code 2 like argparse."""
    if args.command == "token" and args.token_command == "create":
        roles = list(dict.fromkeys(args.roles))
        args.roles = roles
        sub: argparse.ArgumentParser = args.subparser
        if "partner" in roles and not args.partner:
            sub.error("the partner role needs --partner PARTNER_ID")
        if args.partner and "partner" not in roles:
            sub.error("--partner only goes with --role partner")


def _settings(args: argparse.Namespace) -> Settings:
    from pydantic import ValidationError

    from licenseflow.config import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        raise CliError(f"invalid configuration in environment/.env:\n{exc}") from exc
    updates = {}
    if args.log_format:
        updates["log_format"] = args.log_format
    if args.log_level:
        updates["log_level"] = args.log_level
    return settings.model_copy(update=updates) if updates else settings


def redact(dsn: str) -> str:
    """A DSN with any password replaced by ***, safe to log."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", dsn)


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded Postgres under LICENSEFLOW_DATA_DIR (started if needed)."""
    if settings.database_url:
        return settings.database_url
    from store.embedded import ensure_embedded_postgres

    try:
        return ensure_embedded_postgres(settings.data_dir)
    except Exception as exc:
        raise CliError(
            f"could not start embedded Postgres under {settings.data_dir / 'pg'}: {exc}\n"
            "set DATABASE_URL to use an external PostgreSQL instead"
        ) from exc


@contextlib.contextmanager
def one_off_database(settings: Settings) -> Iterator[str]:
    """The database for a one-off command; an embedded server it had to start is stopped after."""
    if settings.database_url:
        yield settings.database_url
        return
    from store.embedded import embedded_postgres_running, stop_embedded_postgres

    started = not embedded_postgres_running(settings.data_dir)
    dsn = resolve_database_url(settings)
    try:
        yield dsn
    finally:
        if started:
            stop_embedded_postgres(settings.data_dir)


def _with_database(settings: Settings) -> Settings:
    return settings.model_copy(update={"database_url": resolve_database_url(settings)})


def _logging(settings: Settings, *, stream: Literal["stdout", "stderr"] = "stdout") -> None:
    from licenseflow.logging import configure_logging

    try:
        configure_logging(settings.log_format, settings.log_level, stream=stream)
    except ValueError as exc:
        raise CliError(str(exc)) from exc


def cmd_dev(settings: Settings) -> int:
    from licenseflow.devstack import run_dev

    return run_dev(settings)


def cmd_worker(settings: Settings) -> int:
    from workers.main import run_worker

    _logging(settings)
    settings = _with_database(settings)
    try:
        asyncio.run(run_worker(settings))
    except KeyboardInterrupt:
        return 130
    return 0


def cmd_api(settings: Settings, host: str | None, port: int | None) -> int:
    import uvicorn

    from api.app import create_app

    _logging(settings)
    settings = _with_database(settings)
    uvicorn.run(
        create_app(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_config=None,  # keep our structlog handlers
        loop="auto",  # uvloop when installed (uvicorn[standard]), else asyncio
        http="auto",  # httptools when installed, else h11
        proxy_headers=True,
        server_header=False,
    )
    return 0


def cmd_migrate(settings: Settings) -> int:
    from licenseflow.logging import get_logger
    from store.migrate import apply_migrations

    _logging(settings, stream="stderr")
    with one_off_database(settings) as dsn:
        applied = asyncio.run(apply_migrations(dsn))
    get_logger("licenseflow.migrate").info(
        "migrations.applied", applied=applied, database=redact(dsn)
    )
    print("\n".join(applied) if applied else "database is up to date")
    return 0


def cmd_token_create(settings: Settings, user: str, roles: list[str], partner: str | None) -> int:
    from store.pool import create_pool
    from store.tokens import create_token

    _logging(settings, stream="stderr")  # stdout carries only the token

    async def create(dsn: str) -> str:
        pool = await create_pool(dsn, min_size=1, max_size=1)
        try:
            return await create_token(pool, user, roles, partner)
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        finally:
            await pool.close()

    with one_off_database(settings) as dsn:
        token = asyncio.run(create(dsn))
    print(token)
    return 0


def _fail(message: str, code: int = 1) -> NoReturn:
    print(f"licenseflow: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `licenseflow` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _validate(args)
    try:
        settings = _settings(args)
        if args.command == "dev":
            return cmd_dev(settings)
        if args.command == "worker":
            return cmd_worker(settings)
        if args.command == "api":
            return cmd_api(settings, args.host, args.port)
        if args.command == "migrate":
            return cmd_migrate(settings)
        if args.command == "token" and args.token_command == "create":
            return cmd_token_create(settings, args.user, args.roles, args.partner)
    except CliError as exc:
        _fail(str(exc))
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("api", "workers", "store", "workflows"):
            _fail(f"component {exc.name!r} is not available in this build: {exc}")
        raise
    except (OSError, ConnectionError) as exc:
        _fail(f"{type(exc).__name__}: {exc}")
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if type(exc).__module__.startswith("asyncpg"):
            _fail(f"database error ({type(exc).__name__}): {exc}")
        raise
    parser.error(f"unknown command {args.command!r}")


if __name__ == "__main__":
    sys.exit(main())
