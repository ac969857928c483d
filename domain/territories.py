"""Territories: ISO 3166-1 alpha-2 country codes and the regions a licensed scope may name.

A scope's territories are country codes or region names (`EU`, `EEA`, `DACH`, `BENELUX`,
`NORDICS`); at the API edge they are upper-cased, regions are expanded to their member
countries and the list is de-duplicated keeping order. A sales line names one country.
Comparisons (`covered`, `wanted`) normalise both sides the same way, so values stored before
the edge normalised them (`de`, a scope naming `EU`) still match.

No dependency: the lists below are maintained here. Check them against ISO 3166 when a code is
assigned or withdrawn, or when a region's membership changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

ISO_3166_AS_OF: Final = "2026-01-01"
"""Date of `COUNTRIES` and `REGIONS`. The set of officially assigned ISO 3166-1 alpha-2 codes
last changed in 2011 (SS, South Sudan); later changes were names only (MK, SZ, TR, ...)."""

COUNTRIES: Final[frozenset[str]] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
    BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
    DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET
    FI FJ FK FM FO FR
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
    HK HM HN HR HT HU
    ID IE IL IM IN IO IQ IR IS IT
    JE JM JO JP
    KE KG KH KI KM KN KP KR KW KY KZ
    LA LB LC LI LK LR LS LT LU LV LY
    MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
    NA NC NE NF NG NI NL NO NP NR NU NZ
    OM
    PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA
    RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
    TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
    UA UG UM US UY UZ
    VA VC VE VG VI VN VU
    WF WS
    YE YT
    ZA ZM ZW
    """.split()
)
"""The 249 officially assigned ISO 3166-1 alpha-2 codes (as of `ISO_3166_AS_OF`)."""

_EU: Final = (
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE"
).split()

REGIONS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "EU": tuple(_EU),
        "EEA": (*_EU, "IS", "LI", "NO"),
        "DACH": ("DE", "AT", "CH"),
        "BENELUX": ("BE", "NL", "LU"),
        "NORDICS": ("DK", "FI", "IS", "NO", "SE"),
    }
)
"""Region names a scope may list, and their member countries (as of `ISO_3166_AS_OF`): the 27
EU member states (Greece is GR in ISO 3166, not EL), the EEA (EU, Iceland, Liechtenstein,
Norway), DACH, Benelux and the Nordic countries."""

_LOOK_ALIKES: Final[Mapping[str, str]] = MappingProxyType(
    {"UK": "GB", "EL": "GR"}  # reserved codes people use for the United Kingdom and Greece
)


def _unknown(code: str) -> ValueError:
    hint = f" (use {_LOOK_ALIKES[code]})" if code in _LOOK_ALIKES else ""
    return ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code{hint}")


def country(code: str) -> str:
    """`code` upper-cased; ValueError unless it is an assigned ISO 3166-1 alpha-2 code."""
    upper = code.strip().upper()
    if upper in REGIONS:
        raise ValueError(f"{upper} is a region: report each country on its own line")
    if upper not in COUNTRIES:
        raise _unknown(upper)
    return upper


def scope_territory(code: str) -> str:
    """`code` upper-cased; ValueError unless it is a country code or a region name."""
    upper = code.strip().upper()
    if upper not in COUNTRIES and upper not in REGIONS:
        raise _unknown(upper)
    return upper


def wanted(codes: Iterable[str]) -> list[str]:
    """The countries a scope names: upper case, regions expanded, de-duplicated in order.

    Unknown codes (stored before they were checked) are kept upper-cased."""
    out: dict[str, None] = {}
    for code in codes:
        upper = code.strip().upper()
        out.update(dict.fromkeys(REGIONS.get(upper, (upper,))))
    return list(out)


def covered(codes: Iterable[str]) -> frozenset[str]:
    """Every territory value a scope covers, for comparisons: its countries with regions
    expanded, plus the region names it lists (a line stored before lines were checked may
    name a region its scope named too)."""
    listed = [code.strip().upper() for code in codes]
    return frozenset(wanted(listed)) | frozenset(listed)
