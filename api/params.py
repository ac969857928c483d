"""Path and query parameter types shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
"""Deal, partner and user ids: lower-case, URL- and visibility-query-safe."""

DealId = Annotated[str, Path(pattern=ID_PATTERN)]
