"""Lookups in the users directory for separation of duties (who is bound to a partner)."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from domain.activity_io import PartnerUsers, PartnerUsersQuery
from store import users


class DirectoryActivities:
    """Users directory reads, bound to a Postgres pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn
    async def partner_users(self, query: PartnerUsersQuery) -> PartnerUsers:
        """Every user bound to the partner (active or not)."""
        return PartnerUsers(users=await users.partner_users(self._pool, query.partner_id))
