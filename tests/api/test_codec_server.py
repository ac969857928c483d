"""The remote codec server (api/routes/codec.py): Temporal's codec protocol over HTTP with the
workers' key ring, ops/admin only, codec sessions for the Web UI, CORS for its origin only.

Bodies are built and read with protobuf's own JSON mapping (`json_format`, as the samples'
codec servers and the Go CLI do), and checked against an in-process `EncryptionCodec` over
the committed test key ring (tests/conftest.py: dev-test-1 encrypts, dev-test-0 is older)."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
import structlog
from api_helpers import Api, assert_problem
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from api.middleware import MAX_BODY_BYTES
from licenseflow.converter import plain_data_converter
from licenseflow.encryption import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    generate_key_entry,
    parse_key_ring,
)

RING = os.environ["LICENSEFLOW_PAYLOAD_KEYS"]  # tests/conftest.py: newest first
NEWEST, OLDER = (entry.strip() for entry in RING.split(","))
UI = "http://127.0.0.1:8233"  # the default UI origin (LICENSEFLOW_UI_PORT 8233)
DEAL_INPUT = {"deal_id": "moonbear", "title": "Moonbear apparel", "partner_id": "acme"}
SECRET_TEXT = "Moonbear apparel"


def plain(*values: Any) -> list[Payload]:
    """Payloads as the pydantic converter writes them, before encryption."""
    return list(plain_data_converter.payload_converter.to_payloads(list(values)))


def body(payloads: list[Payload]) -> dict[str, Any]:
    return {"payloads": [json_format.MessageToDict(p) for p in payloads]}


def parsed(answer: Any) -> list[Payload]:
    return list(json_format.ParseDict(answer, Payloads()).payloads)


def codec(*entries: str) -> EncryptionCodec:
    return EncryptionCodec(parse_key_ring(",".join(entries)))


async def ops(api: Api) -> dict[str, str]:
    return await api.auth(api.name("oscar"), "ops")


async def post(api: Api, path: str, json: Any, headers: dict[str, str]) -> Any:
    resp = await api.http.post(path, json=json, headers={"X-Namespace": "default", **headers})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    return resp.json()


# ------------------------------------------------------------------------- the protocol


async def test_encode_and_decode_match_the_in_process_codec(api: Api) -> None:
    auth = await ops(api)
    originals = plain(DEAL_INPUT, "second value")
    # encoded over HTTP: sealed under the newest key, readable by the in-process codec
    sealed = parsed(await post(api, "/codec/encode", body(originals), auth))
    for payload in sealed:
        assert payload.metadata["encoding"] == ENCODING
        assert payload.metadata[KEY_ID_METADATA] == NEWEST.split(":")[0].encode()
        assert SECRET_TEXT.encode() not in payload.SerializeToString()
    assert await codec(RING).decode(sealed) == originals
    # sealed in process: decoded over HTTP to the originals
    local = await codec(RING).encode(originals)
    assert parsed(await post(api, "/codec/decode", body(local), auth)) == originals


async def test_decodes_a_payload_sealed_with_an_older_key_of_the_ring(api: Api) -> None:
    originals = plain(DEAL_INPUT)
    old = await codec(OLDER).encode(originals)
    assert old[0].metadata[KEY_ID_METADATA] == OLDER.split(":")[0].encode()
    decoded = await post(api, "/codec/decode", body(old), await api.auth(api.name("ada"), "admin"))
    assert parsed(decoded) == originals


async def test_plain_payloads_pass_through(api: Api) -> None:
    originals = plain(DEAL_INPUT, None, 42)
    answer = await post(api, "/codec/decode", body(originals), await ops(api))
    assert parsed(answer) == originals


async def test_answers_the_same_shape_for_empty_and_url_safe_unpadded_bodies(api: Api) -> None:
    auth = await ops(api)
    assert await post(api, "/codec/decode", {"payloads": []}, auth) == {"payloads": []}
    [sealed] = await codec(RING).encode(plain(DEAL_INPUT))

    def url_safe(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    sent = {
        "payloads": [
            {
                "metadata": {k: url_safe(v) for k, v in sealed.metadata.items()},
                "data": url_safe(sealed.data),
            }
        ]
    }
    # the UI adds ?preserveStorageRefs=true; only the path's last part counts
    resp = await api.http.post("/codec/decode?preserveStorageRefs=true", json=sent, headers=auth)
    assert resp.status_code == 200, resp.text
    assert parsed(resp.json()) == plain(DEAL_INPUT)


async def test_a_tampered_payload_is_a_422_naming_it(api: Api) -> None:
    auth = await ops(api)
    good, bad = await codec(RING).encode(plain("first", DEAL_INPUT))
    flipped = bytearray(bad.data)
    flipped[-1] ^= 0x01
    bad.data = bytes(flipped)
    resp = await api.http.post("/codec/decode", json=body([good, bad]), headers=auth)
    problem = assert_problem(resp, 422, field="body.payloads.1")
    assert "failed authentication" in problem["detail"]
    assert SECRET_TEXT not in resp.text


async def test_an_unknown_key_id_is_a_422_naming_the_key(api: Api) -> None:
    stranger = generate_key_entry("k-elsewhere")
    sealed = await codec(stranger).encode(plain(DEAL_INPUT))
    resp = await api.http.post("/codec/decode", json=body(sealed), headers=await ops(api))
    problem = assert_problem(resp, 422, field="body.payloads.0")
    assert "unknown key id 'k-elsewhere'" in problem["detail"]


@pytest.mark.parametrize(
    ("sent", "field"),
    [
        ({}, "body.payloads"),
        ({"payloads": "x"}, "body.payloads"),
        ({"payloads": [{"data": "not base64!"}]}, "body.payloads.0.data"),
        ({"payloads": [{"metadata": {"encoding": 5}}]}, "body.payloads.0.metadata.encoding"),
        ({"payloads": [{"data": "", "surprise": 1}]}, "body.payloads.0"),
        ({"payloads": [], "extra": 1}, "body.extra"),
        ({"payloads": [{}] * 1001}, "body.payloads"),
    ],
    ids=["missing", "not a list", "bad base64", "metadata type", "unknown field", "extra", "1001"],
)
async def test_a_bad_body_is_a_422_naming_the_field(
    api: Api, sent: dict[str, Any], field: str
) -> None:
    for path in ("/codec/decode", "/codec/encode"):
        resp = await api.http.post(path, json=sent, headers=await ops(api))
        assert_problem(resp, 422, field=field)


async def test_not_json_and_oversize_bodies_are_refused(api: Api) -> None:
    auth = {**(await ops(api)), "Content-Type": "application/json"}
    resp = await api.http.post("/codec/decode", content=b'{"payloads": [', headers=auth)
    assert assert_problem(resp, 422)["errors"][0]["type"] == "json_invalid"
    huge = b'{"payloads": [{"data": "' + b"A" * MAX_BODY_BYTES + b'"}]}'
    assert_problem(await api.http.post("/codec/decode", content=huge, headers=auth), 413)
    text = {**auth, "Content-Type": "text/plain"}
    assert_problem(await api.http.post("/codec/decode", content=b"x", headers=text), 415)


async def test_another_namespace_is_refused(api: Api) -> None:
    auth = await ops(api)
    sealed = body(await codec(RING).encode(plain(DEAL_INPUT)))
    resp = await api.http.post(
        "/codec/decode", json=sealed, headers={**auth, "X-Namespace": "payments"}
    )
    problem = assert_problem(resp, 422, field="header.x-namespace")
    assert "serves namespace 'default', not 'payments'" in problem["detail"]
    for namespace in ({"X-Namespace": "default"}, {}):  # the configured one, or none sent
        resp = await api.http.post("/codec/decode", json=sealed, headers={**auth, **namespace})
        assert resp.status_code == 200, resp.text


async def test_decodes_are_logged_without_payload_content(api: Api) -> None:
    auth = await ops(api)
    sealed = body(await codec(RING).encode(plain(DEAL_INPUT)))
    with structlog.testing.capture_logs() as logs:
        await post(api, "/codec/decode", sealed, auth)
    [entry] = [e for e in logs if e["event"] == "codec.decode"]
    assert entry["user"] == api.name("oscar") and entry["payloads"] == 1
    assert entry["key_ids"] == [NEWEST.split(":")[0]]
    assert SECRET_TEXT not in repr(logs)


# ------------------------------------------------------------------------- who may


@pytest.mark.parametrize("path", ["/codec/decode", "/codec/encode"])
async def test_only_ops_and_admin_use_the_codec(api: Api, path: str) -> None:
    sealed = body(await codec(RING).encode(plain(DEAL_INPUT)))
    for user, role in (("oscar", "ops"), ("ada", "admin")):
        resp = await api.http.post(path, json=sealed, headers=await api.auth(api.name(user), role))
        assert resp.status_code == 200, f"{role}: {resp.text}"
    for user, role in (("olivia", "owner"), ("carol", "approver"), ("fiona", "finance")):
        headers = await api.auth(api.name(user), role)
        assert_problem(await api.http.post(path, json=sealed, headers=headers), 403)
    partner = await api.auth(api.name("acme-ops"), "partner", partner_id=api.name("acme"))
    assert_problem(await api.http.post(path, json=sealed, headers=partner), 403)
    for headers in ({}, {"Authorization": "Bearer lf_never-issued"}):
        resp = await api.http.post(path, json=sealed, headers=headers)
        assert_problem(resp, 401)
        assert SECRET_TEXT not in resp.text


# ------------------------------------------------------------------------- CORS


async def test_a_preflight_from_the_ui_origin_is_allowed_without_a_token(api: Api) -> None:
    resp = await api.http.options(
        "/codec/decode",
        headers={
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
        },
    )
    assert resp.status_code == 204, resp.text
    assert resp.headers["access-control-allow-origin"] == UI
    assert resp.headers["access-control-allow-credentials"] == "true"
    allowed = {h.strip().lower() for h in resp.headers["access-control-allow-headers"].split(",")}
    assert allowed == {"authorization", "content-type", "x-namespace"}
    assert "POST" in resp.headers["access-control-allow-methods"]
    assert "Origin" in resp.headers["vary"]
    # localhost is the same UI
    resp = await api.http.options(
        "/codec/encode",
        headers={"Origin": "http://localhost:8233", "Access-Control-Request-Method": "POST"},
    )
    assert resp.headers["access-control-allow-origin"] == "http://localhost:8233"


@pytest.mark.parametrize(
    "asked",
    [
        {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        {"Origin": "http://127.0.0.1:9999", "Access-Control-Request-Method": "POST"},
        {"Origin": UI, "Access-Control-Request-Method": "PUT"},
        {
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-custom",
        },
    ],
    ids=["other site", "other port", "method", "header"],
)
async def test_other_preflights_are_refused_without_cors_headers(
    api: Api, asked: dict[str, str]
) -> None:
    resp = await api.http.options("/codec/decode", headers=asked)
    assert_problem(resp, 403)
    assert not [h for h in resp.headers if h.startswith("access-control-")]


async def test_answers_carry_cors_headers_for_the_ui_only_and_only_under_codec(api: Api) -> None:
    auth = await ops(api)
    resp = await api.http.post(
        "/codec/decode", json={"payloads": []}, headers={**auth, "Origin": UI}
    )
    assert resp.headers["access-control-allow-origin"] == UI
    assert resp.headers["access-control-allow-credentials"] == "true"
    # errors too, so the UI can read them
    resp = await api.http.post("/codec/decode", json={"payloads": []}, headers={"Origin": UI})
    assert_problem(resp, 401)
    assert resp.headers["access-control-allow-origin"] == UI
    resp = await api.http.post(
        "/codec/decode", json={"payloads": []}, headers={**auth, "Origin": "http://evil.example"}
    )
    assert "access-control-allow-origin" not in resp.headers
    # the rest of the API: no CORS at all, not even for the UI origin
    resp = await api.http.get("/v1/deals", headers={**auth, "Origin": UI})
    assert "access-control-allow-origin" not in resp.headers
    resp = await api.http.options(
        "/v1/deals", headers={"Origin": UI, "Access-Control-Request-Method": "GET"}
    )
    assert resp.status_code == 405
    assert "access-control-allow-origin" not in resp.headers


# ------------------------------------------------------------------------- codec sessions


def session_cookie(resp: Any) -> tuple[str, str]:
    """(the cookie's value, its Set-Cookie attributes, lower-cased)."""
    header = resp.headers["set-cookie"]
    name_value, _, attributes = header.partition(";")
    name, _, value = name_value.partition("=")
    assert name == "lf_codec_session"
    return value, attributes.lower()


async def test_a_codec_session_lets_the_ui_origin_decode_by_cookie_only(api: Api) -> None:
    auth = await ops(api)
    started = await api.http.post("/codec/session", headers=auth)
    assert started.status_code == 201, started.text
    api.http.cookies.clear()  # cookies are sent explicitly below
    value, attributes = session_cookie(started)
    for attribute in ("httponly", "samesite=strict", "path=/codec", "max-age=28800"):
        assert attribute in attributes
    assert value not in started.text  # the token is in the cookie only
    info = started.json()
    assert info["user_name"] == api.name("oscar") and info["roles"] == ["ops"]
    row = await api.pool.fetchrow(
        "SELECT actor, detail FROM audit_log WHERE action = 'token.create' AND subject = $1",
        info["token_id"],
    )
    assert row is not None and row["actor"] == api.name("oscar")

    sealed = body(await codec(RING).encode(plain(DEAL_INPUT)))
    cookie = {"Cookie": f"lf_codec_session={value}"}
    resp = await api.http.post("/codec/decode", json=sealed, headers={**cookie, "Origin": UI})
    assert resp.status_code == 200, resp.text
    assert parsed(resp.json()) == plain(DEAL_INPUT)
    # not from another origin, nor without one (other clients send a bearer token)
    for origin in ({"Origin": "http://evil.example"}, {}):
        resp = await api.http.post("/codec/decode", json=sealed, headers={**cookie, **origin})
        assert_problem(resp, 403)
    # and nowhere else: the rest of the API is bearer-only
    resp = await api.http.get("/v1/deals", headers={**cookie, "Origin": UI})
    assert_problem(resp, 401)

    ended = await api.http.delete("/codec/session", headers=cookie)
    assert ended.status_code == 204
    assert "max-age=0" in ended.headers["set-cookie"].lower()
    resp = await api.http.post("/codec/decode", json=sealed, headers={**cookie, "Origin": UI})
    assert "expired or was revoked" in assert_problem(resp, 401)["detail"]


async def test_an_admin_session_and_who_may_start_one(api: Api) -> None:
    admin = await api.auth(api.name("ada"), "admin")
    started = await api.http.post("/codec/session", headers=admin)
    assert started.status_code == 201 and started.json()["roles"] == ["admin"]
    # an ops+admin user's session carries ops only (the least of the two)
    both = await api.auth(api.name("opal"), "ops", "admin")
    assert (await api.http.post("/codec/session", headers=both)).json()["roles"] == ["ops"]
    api.http.cookies.clear()
    for user, role in (("olivia", "owner"), ("fiona", "finance"), ("carol", "approver")):
        headers = await api.auth(api.name(user), role)
        assert_problem(await api.http.post("/codec/session", headers=headers), 403)
    assert_problem(await api.http.post("/codec/session"), 401)
    # a session cannot start another one: the cookie is not a bearer token
    value, _ = session_cookie(started)
    resp = await api.http.post("/codec/session", headers={"Cookie": f"lf_codec_session={value}"})
    assert_problem(resp, 401)
    # ending a session that is not there clears the cookie all the same
    assert (await api.http.delete("/codec/session")).status_code == 204
