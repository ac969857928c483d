"""`licenseflow` command line: dev, worker, api, migrate, user add/list/disable/enable, token
create/list/revoke, key generate."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

from domain.ids import ID_PATTERN

if TYPE_CHECKING:
    import asyncpg

    from licenseflow.config import Settings
    from store.tokens import IssuedToken, TokenInfo
    from store.users import User

ROLES = ("admin", "owner", "approver", "partner", "ops", "finance")
_IDENTIFIER = re.compile(ID_PATTERN)
_TTL = re.compile(r"^([1-9][0-9]{0,5})([dh])$")
MAX_TTL_DAYS = 365
CLI_ACTOR = "cli"
"""The audit actor of changes made with this command line (the OS user is in the detail)."""
T = TypeVar("T")


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


def _ttl(value: str) -> timedelta:
    """An argparse `type=`: a token lifetime such as 90d or 12h (at most 365 days)."""
    match = _TTL.match(value.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"invalid TTL {value!r}: use days or hours, e.g. 30d, 12h")
    amount = int(match[1])
    ttl = timedelta(days=amount) if match[2] == "d" else timedelta(hours=amount)
    if ttl > timedelta(days=MAX_TTL_DAYS):
        raise argparse.ArgumentTypeError(f"TTL {value} is above {MAX_TTL_DAYS}d")
    return ttl


def _display_name(value: str) -> str:
    """An argparse `type=`: one line, no control characters, at most 200 characters."""
    value = value.strip()
    if not value or len(value) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise argparse.ArgumentTypeError("a display name is one line of 1 to 200 characters")
    return value


def _add_roles(parser: argparse.ArgumentParser, *, required: bool, help: str) -> None:
    parser.add_argument(
        "--role", dest="roles", action="append", required=required, choices=ROLES, help=help
    )


def _add_user_commands(sub: Any) -> None:
    user = sub.add_parser(
        "user",
        help="manage the users directory (who may act, with which roles)",
        description="Users act through their tokens. A partner user is bound to one partner "
        "id, which need not be registered yet (create a partner's contact user first).",
    )
    user_sub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = user_sub.add_parser(
        "add",
        help="add a user (or, with --update, replace its roles)",
        description="Add a user with its roles. Change an existing one with --update: its "
        "tokens keep only the roles it still holds; a role given later needs a new token.",
    )
    add.add_argument("name", type=_identifier("user"), help="user name")
    _add_roles(add, required=True, help="role to hold; repeat for several")
    add.add_argument(
        "--partner", type=_identifier("partner id"), help="partner id (required for role partner)"
    )
    add.add_argument("--display-name", type=_display_name, help="name shown to people")
    add.add_argument(
        "--update", action="store_true", help="replace roles, partner and display name"
    )
    add.set_defaults(subparser=add)
    listing = user_sub.add_parser("list", help="list users")
    listing.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    for action, text in (
        ("disable", "disable a user: every token of theirs stops working at once"),
        ("enable", "enable a disabled user again (their live tokens work again)"),
    ):
        one = user_sub.add_parser(action, help=text, description=text)
        one.add_argument("name", type=_identifier("user"), help="user name")


def _add_token_commands(sub: Any) -> None:
    token = sub.add_parser("token", help="manage API bearer tokens")
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = token_sub.add_parser(
        "create",
        help="create a bearer token for a user and print it to stdout",
        description="Create an API token for a user, with the user's roles (or, with --role, "
        "some of them). Only its hash is stored: save the printed value. An unknown user is "
        "added with the --role/--partner given; an existing user's roles are never widened "
        "here (use `user add --update`).",
    )
    create.add_argument("--user", required=True, type=_identifier("user"), help="user name")
    _add_roles(
        create,
        required=False,
        help="role to grant (one the user holds; repeat for several); default: all of them",
    )
    create.add_argument(
        "--partner", type=_identifier("partner id"), help="partner id (required for role partner)"
    )
    create.add_argument(
        "--ttl", type=_ttl, help="lifetime: days (30d) or hours (12h); default 90d, at most 365d"
    )
    create.set_defaults(subparser=create)
    listing = token_sub.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--user", type=_identifier("user"), help="only this user's")
    listing.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    revoke = token_sub.add_parser("revoke", help="revoke a token by its id (see token list)")
    revoke.add_argument("token_id", help="token id, tok_...")


def _add_key_commands(sub: Any) -> None:
    key = sub.add_parser("key", help="payload encryption keys (LICENSEFLOW_PAYLOAD_KEYS)")
    key_sub = key.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    generate = key_sub.add_parser(
        "generate",
        help="print a new id:base64key entry to stdout",
        description="Print a new AES-256 payload key as id:base64key. Rotate by prepending "
        "it to LICENSEFLOW_PAYLOAD_KEYS (newest first encrypts; keep older keys to decrypt).",
    )
    generate.add_argument("--id", dest="key_id", help="key id (default k<UTC timestamp>)")


def cmd_key(args: argparse.Namespace) -> int:
    """key generate: needs no settings (production without a key must be able to run it)."""
    from licenseflow.encryption import DEV_KEY_PREFIX, PayloadKeyError, generate_key_entry

    if args.key_id and args.key_id.startswith(DEV_KEY_PREFIX):
        raise CliError(f"key ids starting with {DEV_KEY_PREFIX!r} are refused in production")
    try:
        print(generate_key_entry(args.key_id))
    except PayloadKeyError as exc:
        raise CliError(str(exc)) from None
    return 0


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
        "Postgres (unless DATABASE_URL is set), migrations, dev users and tokens, one worker "
        "and the API.",
    )
    sub.add_parser("worker", help="run a Temporal worker on the licensing task queue")
    api = sub.add_parser("api", help="run the HTTP API (uvicorn)")
    api.add_argument("--host", help="bind address (default LICENSEFLOW_API_HOST)")
    api.add_argument("--port", type=int, help="port (default LICENSEFLOW_API_PORT)")
    sub.add_parser("migrate", help="apply pending database migrations")
    _add_user_commands(sub)
    _add_token_commands(sub)
    _add_key_commands(sub)
    return parser


def _validate(args: argparse.Namespace) -> None:
    """Cross-argument checks argparse cannot express; exits with code 2 like argparse."""
    creating = args.command == "token" and args.token_command == "create"
    adding = args.command == "user" and args.user_command == "add"
    if (creating or adding) and (args.roles or args.partner):
        roles = list(dict.fromkeys(args.roles or ()))
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
        # X-Forwarded-* are believed only from LICENSEFLOW_TRUSTED_PROXIES, by the app
        # (api/middleware.py ClientAddressMiddleware): uvicorn must not rewrite them first
        proxy_headers=False,
        forwarded_allow_ips="",
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


def _on_database(settings: Settings, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run `work` on a one-connection pool of the command's database; ValueError and
    LookupError (a refused change) become CliError."""
    from store.pool import create_pool

    async def run(dsn: str) -> T:
        pool = await create_pool(dsn, min_size=1, max_size=1)
        try:
            return await work(pool)
        except (ValueError, LookupError) as exc:
            raise CliError(str(exc)) from exc
        finally:
            await pool.close()

    with one_off_database(settings) as dsn:
        return asyncio.run(run(dsn))


def _cli_detail(**detail: Any) -> dict[str, Any]:
    """Audit detail of a CLI change: what changed, and which OS user ran the command."""
    import getpass

    try:
        os_user: str | None = getpass.getuser()
    except (OSError, KeyError):
        os_user = None
    return {**detail, "via": "cli", "os_user": os_user}


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _user_json(user: User) -> dict[str, Any]:
    return {
        "user_name": user.user_name,
        "display_name": user.display_name,
        "roles": sorted(user.roles),
        "partner_id": user.partner_id,
        "active": user.active,
        "created_at": user.created_at.isoformat() if user.created_at else None,
    }


def _token_json(info: TokenInfo) -> dict[str, Any]:
    return {
        "token_id": info.token_id,
        "user_name": info.user_name,
        "roles": list(info.roles),
        "partner_id": info.partner_id,
        "created_at": info.created_at.isoformat(),
        "created_by": info.created_by,
        "last_used_at": info.last_used_at.isoformat() if info.last_used_at else None,
        "expires_at": info.expires_at.isoformat(),
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
        "status": info.status(),
    }


def _describe(user: User) -> str:
    bound = f"; partner {user.partner_id}" if user.partner_id else ""
    state = "" if user.active else ", disabled"
    return f"{user.user_name} ({', '.join(sorted(user.roles))}{bound}{state})"


async def _add_user(
    pool: asyncpg.Pool,
    name: str,
    roles: list[str],
    partner: str | None,
    display_name: str | None,
    *,
    update: bool,
) -> tuple[User, bool]:
    """(the user, whether it changed): added, or replaced with `update`."""
    from store import audit, users
    from store.pool import transaction

    async with transaction(pool) as conn:
        existing = await users.get(conn, name)
        if update:
            if existing is None:
                raise CliError(f"unknown user {name}: add it without --update")
            user = await users.upsert(
                conn,
                name,
                roles=roles,
                partner_id=partner,
                display_name=display_name or existing.display_name,
                active=existing.active,
            )
            action = "user.update"
        else:
            created = await users.create(
                conn, name, roles=roles, partner_id=partner, display_name=display_name
            )
            if created is None:
                assert existing is not None
                same = existing.roles == frozenset(roles) and existing.partner_id == partner
                if same and display_name in (None, existing.display_name):
                    return existing, False
                raise CliError(
                    f"user {_describe(existing)} exists already: change it with --update"
                )
            user, action = created, "user.add"
        await audit.append(
            conn,
            actor=CLI_ACTOR,
            action=action,
            subject=name,
            detail=_cli_detail(roles=sorted(user.roles), partner_id=user.partner_id),
        )
    return user, True


async def _unregistered_partner(pool: asyncpg.Pool, partner: str | None) -> bool:
    if partner is None:
        return False
    from store import partners

    return not await partners.existing_ids(pool, [partner])


def cmd_user(settings: Settings, args: argparse.Namespace) -> int:
    """user add | list | disable | enable."""
    from store import audit, users
    from store.pool import transaction

    _logging(settings, stream="stderr")  # stdout carries only the answer
    action: str = args.user_command
    if action == "add":

        async def add(pool: asyncpg.Pool) -> tuple[User, bool, bool]:
            user, changed = await _add_user(
                pool, args.name, args.roles, args.partner, args.display_name, update=args.update
            )
            return user, changed, await _unregistered_partner(pool, user.partner_id)

        user, changed, unregistered = _on_database(settings, add)
        verb = ("updated" if args.update else "added") if changed else "unchanged:"
        print(f"{verb} user {_describe(user)}")
        if unregistered:
            print(
                f"note: partner {user.partner_id} is not registered yet; register it with"
                f' "contact_user": "{user.user_name}" (POST /v1/partners)',
                file=sys.stderr,
            )
        return 0
    if action == "list":
        found = _on_database(settings, lambda pool: users.list_all(pool))
        if args.json:
            for user in found:
                print(json.dumps(_user_json(user)))
        elif found:
            rows = [["USER", "DISPLAY NAME", "ROLES", "PARTNER", "ACTIVE", "CREATED"]]
            rows += [
                [
                    u.user_name,
                    u.display_name,
                    ",".join(sorted(u.roles)),
                    u.partner_id or "-",
                    "yes" if u.active else "no",
                    _when(u.created_at),
                ]
                for u in found
            ]
            print(_table(rows))
        return 0
    active = action == "enable"

    async def set_active(pool: asyncpg.Pool) -> bool:
        async with transaction(pool) as conn:
            changed = await conn.fetchval(
                "UPDATE users SET active = $2 WHERE user_name = $1 AND active <> $2"
                " RETURNING user_name",
                args.name,
                active,
            )
            if changed is None:
                if await users.get(conn, args.name) is None:
                    raise CliError(f"unknown user {args.name}")
                return False
            await audit.append(
                conn, actor=CLI_ACTOR, action=f"user.{action}", subject=args.name,
                detail=_cli_detail(),
            )  # fmt: skip
            return True

    changed = _on_database(settings, set_active)
    if not changed:
        print(f"user {args.name} is {action}d already")
    elif active:
        print(f"enabled user {args.name}: their live tokens work again")
    else:
        print(f"disabled user {args.name}: their tokens stop working now")
    return 0


async def _create_token(
    pool: asyncpg.Pool,
    name: str,
    roles: list[str] | None,
    partner: str | None,
    ttl: timedelta | None,
) -> tuple[IssuedToken, User | None]:
    """Issue a token for `name`; an unknown user is added first with `roles` and `partner`
    (returned as the user added)."""
    from store import audit, tokens, users
    from store.pool import transaction

    async with transaction(pool) as conn:
        added = None
        if await users.get(conn, name) is None:
            if not roles:
                raise CliError(
                    f"unknown user {name}: add it with `licenseflow user add {name} --role ROLE`"
                    " (or give --role here to add it with those roles)"
                )
            added = await users.create(conn, name, roles=roles, partner_id=partner)
            if added is not None:
                await audit.append(
                    conn,
                    actor=CLI_ACTOR,
                    action="user.add",
                    subject=name,
                    detail=_cli_detail(roles=sorted(added.roles), partner_id=added.partner_id),
                )
        issued = await tokens.issue(conn, name, roles, partner, ttl=ttl, created_by=CLI_ACTOR)
        info = issued.info
        await audit.append(
            conn,
            actor=CLI_ACTOR,
            action="token.create",
            subject=info.token_id,
            detail=_cli_detail(
                user=name,
                roles=list(info.roles),
                partner_id=info.partner_id,
                expires_at=info.expires_at.isoformat(),
            ),
        )
    return issued, added


def cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    """token create | list | revoke."""
    from store import audit, tokens
    from store.pool import transaction

    _logging(settings, stream="stderr")  # stdout carries only the answer
    action: str = args.token_command
    if action == "create":
        issued, added = _on_database(
            settings,
            lambda pool: _create_token(pool, args.user, args.roles, args.partner, args.ttl),
        )
        info = issued.info
        if added is not None:
            print(f"added user {_describe(added)}", file=sys.stderr)
        print(
            f"token {info.token_id} for {info.user_name} ({', '.join(info.roles)}),"
            f" expires {_when(info.expires_at)} UTC",
            file=sys.stderr,
        )
        print(issued.token)
        return 0
    if action == "list":
        found = _on_database(settings, lambda pool: tokens.list_tokens(pool, user=args.user))
        if args.json:
            for info in found:
                print(json.dumps(_token_json(info)))
        elif found:
            rows = [["TOKEN", "USER", "ROLES", "PARTNER", "CREATED", "LAST USED", "EXPIRES",
                     "STATUS"]]  # fmt: skip
            rows += [
                [
                    t.token_id,
                    t.user_name,
                    ",".join(t.roles),
                    t.partner_id or "-",
                    _when(t.created_at),
                    _when(t.last_used_at),
                    _when(t.expires_at),
                    t.status() if not t.revoked_at else f"revoked {_when(t.revoked_at)}",
                ]
                for t in found
            ]
            print(_table(rows))
        return 0

    async def revoke(pool: asyncpg.Pool) -> bool:
        async with transaction(pool) as conn:
            found = await tokens.revoke_id(conn, args.token_id)
            if found is None:
                raise CliError(f"unknown token {args.token_id} (see licenseflow token list)")
            info, revoked = found
            if revoked:
                await audit.append(
                    conn, actor=CLI_ACTOR, action="token.revoke", subject=info.token_id,
                    detail=_cli_detail(user=info.user_name),
                )  # fmt: skip
            return revoked

    revoked = _on_database(settings, revoke)
    print(f"revoked {args.token_id}" if revoked else f"{args.token_id} was revoked already")
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
        if args.command == "key":
            return cmd_key(args)
        settings = _settings(args)
        if args.command == "dev":
            return cmd_dev(settings)
        if args.command == "worker":
            return cmd_worker(settings)
        if args.command == "api":
            return cmd_api(settings, args.host, args.port)
        if args.command == "migrate":
            return cmd_migrate(settings)
        if args.command == "user":
            return cmd_user(settings, args)
        if args.command == "token":
            return cmd_token(settings, args)
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
