"""Data errors of activities are final (the deal parks); outages stay retryable."""

from __future__ import annotations

from decimal import InvalidOperation

import asyncpg
import pydantic
from temporalio.exceptions import ApplicationError

from domain.sales import SalesLine
from workers.activity_errors import DATA_ERROR, as_final


def test_data_errors_become_non_retryable_application_errors() -> None:
    try:
        SalesLine.model_validate({"sku": "x"})
    except pydantic.ValidationError as invalid:
        stored_row_invalid: BaseException = invalid
    for error in (
        asyncpg.exceptions.NumericValueOutOfRangeError("numeric field overflow"),
        asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence 0x00"),
        stored_row_invalid,
        InvalidOperation(),
    ):
        final = as_final(error)
        assert isinstance(final, ApplicationError), error
        assert (final.type, final.non_retryable) == (DATA_ERROR, True)


def test_outages_and_refusals_keep_their_own_retry_rule() -> None:
    for error in (
        ConnectionRefusedError("postgres down"),
        asyncpg.exceptions.CannotConnectNowError("starting up"),
        TimeoutError(),
    ):
        assert as_final(error) is error
    refusal = ApplicationError("unknown provider", type="Invalid", non_retryable=True)
    assert as_final(refusal) is refusal
