"""Screenshots of a deal in the Temporal Web UI with and without the codec server.

Against a running dev stack (`make dev`) with the deal started (README "Walkthrough", step 2),
in headless Chromium driven over the Chrome DevTools Protocol (no extra dependency: the
`websockets` package of uvicorn[standard]), in two fresh browser profiles:

- codec-on.png: the browser first starts a codec session with an ops token (`POST
  /codec/session` from the API's own docs page, as Swagger UI's "Try it out" does), then the
  UI's Codec Server settings are those README "Reading encrypted payloads" describes (this
  browser's endpoint, "Include cross-origin credentials"); the deal's input is readable;
- codec-off.png: the UI as `make dev` configures it, without a session: the UI's calls to
  the codec are refused (401) and the input stays `binary/encrypted` ciphertext.

The deal's title (read from the API) must appear on the first page and not on the second,
else the script exits 1. Run: `make screenshots` (DEAL=moonbear-eu by default).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import Payload
from websockets.asyncio.client import ClientConnection, connect

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from licenseflow.config import Settings  # noqa: E402
from licenseflow.devstack import codec_endpoint  # noqa: E402

VIEWPORT = {"width": 1440, "height": 1300, "deviceScaleFactor": 1, "mobile": False}
WAIT_SECONDS = 45.0


class Cdp:
    """A Chrome DevTools Protocol connection to the browser (pages by session id)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = iter(range(1, 1_000_000))
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            future = self.pending.pop(message.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(message)

    async def call(self, method: str, session: str | None = None, **params: Any) -> Any:
        ident = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[ident] = future
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        await self.ws.send(json.dumps(message))
        answer = await asyncio.wait_for(future, 30)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer.get("result", {})


class Page:
    """One tab in its own browser context (own cookies and localStorage)."""

    def __init__(self, cdp: Cdp, session: str) -> None:
        self.cdp = cdp
        self.session = session

    async def call(self, method: str, **params: Any) -> Any:
        return await self.cdp.call(method, self.session, **params)

    async def evaluate(self, expression: str) -> Any:
        found = await self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in found:
            raise RuntimeError(f"{expression[:60]}...: {found['exceptionDetails']}")
        return found["result"].get("value")

    async def goto(self, url: str) -> None:
        await self.call("Page.navigate", url=url)
        await self.until("document.readyState", lambda state: state == "complete", url)

    async def until(
        self, expression: str, done: Callable[[Any], bool], what: str, within: float = WAIT_SECONDS
    ) -> Any:
        """Poll `expression` until `done(value)`; the last value when it never is."""
        deadline = time.monotonic() + within
        value = None
        while time.monotonic() < deadline:
            with contextlib.suppress(RuntimeError):  # a navigation replaced the context
                value = await self.evaluate(expression)
                if done(value):
                    return value
            await asyncio.sleep(0.25)
        raise TimeoutError(f"{what}: not ready within {within:.0f}s (last: {str(value)[:300]})")

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def _launch(binary: str, profile: Path) -> subprocess.Popen[bytes]:
    """Headless Chromium with its DevTools on a free local port (written to the profile's
    DevToolsActivePort file); its output goes to the profile's chromium.log."""
    argv = [
        binary,
        "--headless=new",
        "--remote-debugging-port=0",
        "--remote-debugging-address=127.0.0.1",
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-gpu",
        "--hide-scrollbars",
        "about:blank",
    ]
    if os.geteuid() == 0:
        argv.insert(1, "--no-sandbox")  # Chromium refuses to sandbox as root
    with (profile / "chromium.log").open("wb") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.asynccontextmanager
async def chromium(binary: str) -> AsyncIterator[Cdp]:
    """Headless Chromium with a throw-away profile, and a CDP connection to it."""
    profile = Path(tempfile.mkdtemp(prefix="lf-chromium-"))
    proc = await asyncio.to_thread(_launch, binary, profile)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (profile / "chromium.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{binary} did not start (exit {proc.poll()}): {log}")
            await asyncio.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        async with connect(f"ws://127.0.0.1:{port}{path}", max_size=None) as ws:
            cdp = Cdp(ws)
            reader = asyncio.create_task(cdp.read())
            try:
                yield cdp
            finally:
                reader.cancel()
    finally:
        await asyncio.to_thread(_stop, proc)
        shutil.rmtree(profile, ignore_errors=True)


async def new_page(cdp: Cdp) -> Page:
    """A tab in a fresh browser context: no cookies, no localStorage."""
    context = (await cdp.call("Target.createBrowserContext"))["browserContextId"]
    target = await cdp.call("Target.createTarget", url="about:blank", browserContextId=context)
    attached = await cdp.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)
    page = Page(cdp, attached["sessionId"])
    await page.call("Page.enable")
    await page.call("Runtime.enable")
    await page.call("Emulation.setDeviceMetricsOverride", **VIEWPORT)
    return page


CLICK = """(sel => {{
  const el = document.querySelector(sel);
  if (!el) return false;
  el.click();
  return true;
}})({})"""
SESSION_OP = "#operations-codec-start_session_codec_session_post"
FILL = """((sel, text) => {{
  const field = document.querySelector(sel);
  if (!field) return false;
  const proto = Object.getPrototypeOf(field);
  Object.getOwnPropertyDescriptor(proto, 'value').set.call(field, text);
  field.dispatchEvent(new Event('input', {{bubbles: true}}));
  return true;
}})({}, {})"""
BUTTON = """((scope, label) => {{
  const found = [...document.querySelectorAll(scope + ' button')]
    .find(b => b.innerText.trim() === label && !b.disabled);
  if (!found) return false;
  found.click();
  return true;
}})({}, {})"""


def click(selector: str) -> str:
    return CLICK.format(json.dumps(selector))


def button(scope: str, label: str) -> str:
    return BUTTON.format(json.dumps(scope), json.dumps(label))


def fill(selector: str, text: str) -> str:
    return FILL.format(json.dumps(selector), json.dumps(text))


async def start_codec_session(page: Page, api: str, token: str) -> None:
    """`POST /codec/session` from the API's Swagger UI: Authorize with the ops token, then
    "Try it out" and "Execute", as a user does; the browser keeps the session cookie."""
    await page.goto(f"{api}/docs")
    await page.until(click("button.authorize"), bool, "Authorize")
    await page.until(fill(".auth-container input", token), bool, "token field")
    await page.until(button(".auth-btn-wrapper", "Authorize"), bool, "Authorize (modal)")
    await page.until(button(".auth-btn-wrapper", "Close"), bool, "Close")
    await page.until(click(f"{SESSION_OP} .opblock-summary-control"), bool, "POST /codec/session")
    await page.until(click(f"{SESSION_OP} .try-out__btn"), bool, "Try it out")
    await page.until(click(f"{SESSION_OP} .execute"), bool, "Execute")
    answered = f"{SESSION_OP} td.response-col_status:not(.col_header)"  # the live answer first
    status = await page.until(
        f"(document.querySelector({json.dumps(answered)}) || {{}}).innerText", bool, "the answer"
    )
    cookies = await page.call("Network.getCookies", urls=[f"{api}/codec/decode"])
    session = [c for c in cookies["cookies"] if c["name"] == "lf_codec_session"]
    if status.strip() != "201" or not session or not session[0]["httpOnly"]:
        raise RuntimeError(f"POST /codec/session answered {status!r}; cookies {cookies}")


async def use_codec_in_browser(page: Page, url: str, endpoint: str, shot: Path) -> None:
    """Set this browser's endpoint with "Include cross-origin credentials" in the UI's Codec
    Server dialog (the codec icon of the top bar), as a user does; `shot` shows it filled."""
    await page.goto(url)
    await page.until(click('[data-testid^="data-encoder-status"]'), bool, "codec icon")
    await page.until(click("#use-local-endpoint-radio"), bool, "browser setting")
    await page.until(fill("#data-encoder-endpoint-input", endpoint), bool, "endpoint field")
    await page.until(click("#pass-access-credentials"), bool, "credentials")
    await page.until(
        "document.querySelector('#pass-access-credentials').checked", bool, "credentials on"
    )
    await page.screenshot(shot)
    await page.until(button("#data-encoder-settings", "Apply"), bool, "Apply")
    stored = await page.evaluate("JSON.parse(localStorage.getItem('includeCredentials'))")
    if stored is not True:
        raise RuntimeError(f"the dialog did not store includeCredentials (found {stored!r})")


async def workflow_page(page: Page, url: str, ready: Callable[[str], bool]) -> str:
    """Open the workflow page and wait until its text satisfies `ready`."""
    await page.goto(url)
    await page.until("document.body.innerText", ready, url)
    await asyncio.sleep(1.0)  # let the last payload cards finish rendering before the shot
    found: str = await page.evaluate("document.body.innerText")
    return found


def api_get(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


async def started_input(settings: Settings, workflow_id: str) -> tuple[str, Payload]:
    """The run id and the input payload of the workflow's start event, as Temporal holds
    them (no codec: what the UI gets from the server)."""
    from temporalio.client import Client

    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    handle = client.get_workflow_handle(workflow_id)
    run_id = (await handle.describe()).run_id
    async for event in handle.fetch_history_events():
        return run_id, event.workflow_execution_started_event_attributes.input.payloads[0]
    raise RuntimeError(f"{workflow_id} has no history")


async def main() -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--deal", default="moonbear-eu")
    parser.add_argument("--token", help="an ops token (default: oscar's dev token)")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--chromium", default=None)
    args = parser.parse_args()
    names = ("chromium", "chromium-browser", "google-chrome")
    binary = args.chromium or next(filter(None, map(shutil.which, names)), None)
    if binary is None:
        print("no chromium found (apt-get install chromium)", file=sys.stderr)
        return 2
    token = args.token
    if token is None:
        tokens = json.loads((settings.data_dir / "dev-tokens.json").read_text())["tokens"]
        token = tokens["oscar"]
    endpoint = codec_endpoint(settings)
    api = endpoint.removesuffix("/codec")
    ui = f"http://127.0.0.1:{settings.ui_port}"
    workflow_id = f"deal-{args.deal}"
    title = api_get(f"{api}/v1/deals/{args.deal}", token)["title"]
    run_id, sealed = await started_input(settings, workflow_id)
    if sealed.metadata.get("encoding") != b"binary/encrypted":
        print(
            f"{workflow_id}'s input is not encrypted: start the stack with a key", file=sys.stderr
        )
        return 1
    ciphertext = base64.b64encode(sealed.data).decode()[:60]
    ns = settings.temporal_namespace
    url = f"{ui}/namespaces/{ns}/workflows/{workflow_id}/{run_id}/history"
    args.out.mkdir(parents=True, exist_ok=True)

    async with chromium(binary) as cdp:
        on = await new_page(cdp)
        await start_codec_session(on, api, token)
        await use_codec_in_browser(on, url, endpoint, args.out / "codec-settings.png")
        text_on = await workflow_page(on, url, lambda text: title in text)
        await on.screenshot(args.out / "codec-on.png")

        off = await new_page(cdp)
        text_off = await workflow_page(off, url, lambda text: ciphertext in text)
        await off.screenshot(args.out / "codec-off.png")

    readable = title in text_on and ciphertext not in text_on
    opaque = title not in text_off and ciphertext in text_off
    print(f"with the codec: the title {title!r} {'is shown' if readable else 'is MISSING'}")
    print(f"without it: {'only the ciphertext is shown' if opaque else 'NOT OPAQUE'}")
    return 0 if readable and opaque else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
