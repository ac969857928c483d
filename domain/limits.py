"""Documented bounds of every input, checked at the edge (API bodies and workflow messages)
so that nothing accepted can later break a deal: amounts fit the statement columns
(numeric(18,2)) even summed over a contract year, dates stay inside the calendar, and
strings hold no control characters (Postgres refuses NUL).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

MAX_AMOUNT = Decimal("10000000000")
"""Largest money amount in one field (10 billion in the deal currency), at most 3 decimals
and no finer than the currency's minor unit."""
MAX_UNITS = 1_000_000_000
MAX_REPORT_LINES = 5_000
"""Lines in one sales report. A statement above the table's bound (10^16) would fail for
good: the deal parks on an incident for ops instead of billing a wrong figure."""
MAX_PERIODS_PER_YEAR = 366
MAX_TERM_PERIODS = 1_200
MAX_RATE_DECIMALS = 6
MAX_RATE_CARD_ROWS = 50
"""Rows of a deal's rate card (each booked period keeps its sales per row)."""
MAX_ROW_TIERS = 20
"""Royalty tiers of one rate-card row."""
MAX_GUARANTEE_YEARS = 100
"""Entries of a minimum-guarantee schedule (one per contract year; later years use the last)."""

MAX_NAME = 200
"""Titles and names: one line."""
MAX_TEXT = 4_000
"""Comments and reasons: may span lines."""
MAX_CODE = 64
MAX_REFERENCE = 140
"""A payment's reference (a SEPA remittance line holds 140 characters): one line."""

MAX_IDS = 50
"""Partners, approvers, approver-chain steps and other lists of ids."""
MAX_ITEMS = 300
"""Scope codes (a worldwide licence lists every ISO 3166 territory, about 250), segments,
regions, objectives, KPIs, promotions, tiers."""

MIN_DURATION = timedelta(seconds=1)
MAX_DURATION = timedelta(days=36_000)
"""Any ISO-8601 duration: at least PT1S, at most P100Y (a month counting 30 days)."""
MAX_TERM = timedelta(days=36_000)
"""A deal's whole term (period x term_periods) is at most 100 years."""

SINGLE_LINE = r"^[^\x00-\x1f\x7f]*$"
"""No control characters at all."""
MULTI_LINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
"""No control characters but tab, line feed and carriage return."""
