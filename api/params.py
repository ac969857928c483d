"""Path and query parameter types shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from domain.ids import ID_PATTERN

__all__ = ["ID_PATTERN", "DealId"]


DealId = Annotated[str, Path(pattern=ID_PATTERN)]
