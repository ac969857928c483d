"""Exceptions that stop the deal lifecycle where it is."""

from __future__ import annotations


class Terminated(Exception):
    """A terminate request is pending: leave whatever the lifecycle is doing."""


class Cancelled(Exception):
    """A human wait expired without the input the deal needs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
