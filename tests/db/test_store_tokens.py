"""Users and tokens in Postgres: tokens belong to users, take no role the user lacks, expire,
and stop at once when their user is disabled or loses a role; the 0008 migration."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from store import principals, tokens, users
from store.migrate import apply_migrations, migration_files
from store.tokens import TokenError


async def test_a_token_takes_the_users_roles_or_a_subset_never_more(pool: asyncpg.Pool) -> None:
    await users.create(pool, "olga", roles=["owner", "approver"])
    every = await tokens.issue(pool, "olga")
    assert every.info.roles == ("approver", "owner")
    narrow = await tokens.issue(pool, "olga", ["owner"])
    found = await principals.lookup(pool, narrow.token)
    assert found is not None and found[0].roles == frozenset({"owner"})
    with pytest.raises(TokenError, match="does not hold the role"):
        await tokens.issue(pool, "olga", ["admin"])
    with pytest.raises(TokenError, match="unknown user nobody"):
        await tokens.issue(pool, "nobody", ["admin"])
    with pytest.raises(TokenError, match="--partner only goes"):
        await tokens.issue(pool, "olga", ["owner"], "acme")


async def test_partner_tokens_follow_the_users_binding(pool: asyncpg.Pool) -> None:
    await users.create(pool, "acme-ops", roles=["partner"], partner_id="acme")
    issued = await tokens.issue(pool, "acme-ops")
    assert (issued.info.roles, issued.info.partner_id) == (("partner",), "acme")
    with pytest.raises(TokenError, match="bound to partner acme"):
        await tokens.issue(pool, "acme-ops", ["partner"], "zeta")
    found = await principals.lookup(pool, issued.token)
    assert found is not None and found[0].partner_id == "acme"
    # rebound to another partner: the old token no longer acts for any partner
    await users.upsert(pool, "acme-ops", roles=["partner"], partner_id="zeta")
    assert await principals.lookup(pool, issued.token) is None


async def test_disabled_users_and_removed_roles_stop_tokens_at_once(pool: asyncpg.Pool) -> None:
    await users.create(pool, "bob", roles=["approver", "ops"])
    token = await tokens.create_token(pool, "bob")
    assert await users.set_active(pool, "bob", False)
    assert await principals.lookup(pool, token) is None
    with pytest.raises(TokenError, match="disabled"):
        await tokens.issue(pool, "bob")
    assert await users.set_active(pool, "bob", True)
    found = await principals.lookup(pool, token)
    assert found is not None and found[0].roles == frozenset({"approver", "ops"})
    await users.upsert(pool, "bob", roles=["ops"])
    found = await principals.lookup(pool, token)
    assert found is not None and found[0].roles == frozenset({"ops"})
    # a role given back acts again on the tokens issued with it; a new role needs a new token
    await users.upsert(pool, "bob", roles=["ops", "approver", "admin"])
    found = await principals.lookup(pool, token)
    assert found is not None and found[0].roles == frozenset({"approver", "ops"})


async def test_tokens_expire(pool: asyncpg.Pool) -> None:
    await users.create(pool, "oscar", roles=["ops"])
    issued = await tokens.issue(pool, "oscar", ttl=timedelta(hours=12))
    assert issued.info.expires_at - issued.info.created_at == timedelta(hours=12)
    default = await tokens.issue(pool, "oscar")
    assert default.info.expires_at - default.info.created_at == timedelta(days=90)
    assert default.info.expires_at > datetime.now(UTC) + timedelta(days=89)
    assert await principals.lookup(pool, issued.token) is not None
    await pool.execute(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE token_id = $1",
        issued.info.token_id,
    )
    assert await principals.lookup(pool, issued.token) is None
    expired = await tokens.get(pool, issued.info.token_id)
    assert expired is not None and expired.status() == "expired"
    with pytest.raises(TokenError, match="at most 365 days"):
        await tokens.issue(pool, "oscar", ttl=timedelta(days=366))


def test_ttl_parsing() -> None:
    assert tokens.parse_ttl("30d") == timedelta(days=30)
    assert tokens.parse_ttl("12h") == timedelta(hours=12)
    for bad in ("0d", "1y", "d", "-1d", "366d", "30 d"):
        with pytest.raises(ValueError):
            tokens.parse_ttl(bad)


async def test_revoke_by_id_and_listing(pool: asyncpg.Pool) -> None:
    await users.create(pool, "fiona", roles=["finance"])
    first = await tokens.issue(pool, "fiona", created_by="ada")
    second = await tokens.issue(pool, "fiona")
    listed = await tokens.list_tokens(pool, user="fiona")
    assert {t.token_id for t in listed} == {first.info.token_id, second.info.token_id}
    assert listed[0].created_by in ("ada", None)
    revoked = await tokens.revoke_id(pool, first.info.token_id)
    assert revoked is not None and revoked[1] and revoked[0].status() == "revoked"
    again = await tokens.revoke_id(pool, first.info.token_id)
    assert again is not None and not again[1]
    assert await tokens.revoke_id(pool, "tok_unknown") is None
    assert await principals.lookup(pool, first.token) is None
    assert await principals.lookup(pool, second.token) is not None


async def test_given_plaintext_is_stored_once(pool: asyncpg.Pool) -> None:
    await users.create(pool, "dev-a", roles=["admin"])
    one = await tokens.issue(pool, "dev-a", token="lf_fixed")
    two = await tokens.issue(pool, "dev-a", token="lf_fixed")
    assert one.info.token_id == two.info.token_id
    assert await pool.fetchval("SELECT count(*) FROM api_tokens") == 1


async def test_incident_responders_are_active_users_with_live_tokens(pool: asyncpg.Pool) -> None:
    for name in ("oscar", "otto", "olaf", "ophelia"):
        await users.create(pool, name, roles=["ops"])
    await tokens.issue(pool, "oscar")
    await tokens.issue(pool, "otto")
    await users.set_active(pool, "otto", False)
    old = await tokens.issue(pool, "olaf")
    await pool.execute(
        "UPDATE api_tokens SET expires_at = now() - interval '1 hour' WHERE token_id = $1",
        old.info.token_id,
    )
    assert await principals.users_with_roles(pool, ["ops", "admin"]) == ["oscar"]


def test_effective_roles() -> None:
    assert principals.effective_roles(["owner", "admin"], None, ["owner"], None) == {"owner"}
    assert principals.effective_roles(["partner"], "acme", ["partner"], "acme") == {"partner"}
    assert principals.effective_roles(["partner"], "acme", ["partner"], "zeta") == frozenset()


async def test_users_directory_rules(pool: asyncpg.Pool) -> None:
    with pytest.raises(ValueError, match="needs --partner"):
        await users.create(pool, "p", roles=["partner"])
    with pytest.raises(ValueError, match="unknown role"):
        await users.create(pool, "p", roles=["boss"])
    assert await users.create(pool, "acme-ops", roles=["partner"], partner_id="acme") is not None
    assert await users.create(pool, "acme-ops", roles=["owner"]) is None  # taken: unchanged
    merged = await users.ensure(pool, "acme-ops", ["approver"])
    assert merged.roles == {"approver", "partner"} and merged.partner_id == "acme"
    assert [u.user_name for u in await users.list_all(pool, role="partner")] == ["acme-ops"]
    assert await users.list_all(pool, active=False) == []


async def test_migration_0008_gives_older_tokens_90_days(pg_base_url: str) -> None:
    name = f"lf_mig_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_base_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    head, _, query = pg_base_url.partition("?")
    url = head.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")
    try:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "CREATE TABLE schema_migrations (name text PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for migration, sql in migration_files():
                if migration >= "0008":
                    break
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", migration)
            await conn.execute(
                "INSERT INTO users (user_name, display_name, roles) VALUES ('old', 'old', '{ops}')"
            )
            await conn.execute(
                "INSERT INTO api_tokens (token_id, token_hash, user_name, roles, created_at)"
                " VALUES ('tok_old', 'h', 'old', '{ops}', now() - interval '2 years')"
            )
        finally:
            await conn.close()
        assert "0008_token_expiry" in await apply_migrations(url)
        conn = await asyncpg.connect(url)
        try:
            left = await conn.fetchval(
                "SELECT expires_at - now() FROM api_tokens WHERE token_id = 'tok_old'"
            )
            column = await conn.fetchrow(
                "SELECT is_nullable, column_default FROM information_schema.columns"
                " WHERE table_name = 'api_tokens' AND column_name = 'expires_at'"
            )
        finally:
            await conn.close()
        assert timedelta(days=89) < left <= timedelta(days=90)
        assert column["is_nullable"] == "NO" and "90 days" in column["column_default"]
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
