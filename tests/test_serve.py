"""`rnntui serve`, a real server over real HTTP: without its token nothing is served and no
app process starts, a websocket from another origin is refused, the connection past
--max-connections is refused, and stopping the server ends its app processes. And in a real
browser: headless Chromium (the system's, driven by playwright) opens the tokened URL, F5
trains, and the run it writes reaches its finished event. textual-serve draws the terminal
on a canvas, so what the app did is read from its effects: the run folder and its metrics.

One server (module-scoped) serves the token checks and the browser; the limit and shutdown
test has its own, since it ends it."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from rnntui.cli import main
from rnntui.runs.folders import METRICS, read_metrics

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser",
                                               "google-chrome")) if p), None)
TINY = """[data]
size = 20000
val_size = 5000

[model]
state_size = 8

[train]
batch_size = 50
num_steps = 5
epochs = 2
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "rnntui serve ended"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


@dataclass
class Served:
    proc: subprocess.Popen
    port: int
    token: str
    folder: Path
    first_line: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def serve(folder: Path, *flags: str) -> Served:
    """`rnntui serve` on a free port, in `folder`, listening; its token read from its first
    line, as a user would."""
    port = free_port()
    with open(folder / "serve.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen([sys.executable, "-m", "rnntui", "serve", "--port", str(port),
                                 *flags], cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc)
    except BaseException:
        proc.kill()
        raise
    first = (folder / "serve.log").read_text().splitlines()[0]
    token = re.search(r"\?token=([\w.~-]+)", first)
    assert token, first
    return Served(proc, port, token.group(1), folder, first)


def app_processes(pid: int) -> set[int]:
    """The `rnntui app` processes among `pid`'s descendants (read from /proc: each process's
    parent is the fourth field of its stat)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            if running_app(child):
                found.add(child)
    return found


def running_app(pid: int) -> bool:
    """Whether `pid` is a live (not zombie) `python -m rnntui app`."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return argv[1:4] == [b"-m", b"rnntui", b"app"] and state != "Z"


def wait_until(what, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop(served: Served) -> None:
    if served.proc.poll() is None:
        served.proc.terminate()
        try:
            served.proc.wait(30)
        except subprocess.TimeoutExpired:
            served.proc.kill()
            served.proc.wait(10)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    (folder / "tiny.toml").write_text(TINY, encoding="utf-8")
    one = serve(folder, "--config", "tiny.toml")
    yield one
    stop(one)


async def refused(session: aiohttp.ClientSession, url: str, **kwargs) -> int:
    """The HTTP status a websocket handshake got (it must not have opened)."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await session.ws_connect(url, **kwargs)
    return err.value.status


async def test_without_its_token_nothing_is_served_and_no_app_starts(served):
    assert f"ssh -L {served.port}:localhost:{served.port}" in served.first_line
    assert f"http://localhost:{served.port}/?token={served.token}" in served.first_line
    assert len(served.token) >= 40  # token_urlsafe(32)
    before = app_processes(served.proc.pid)
    origin = {"origin": served.url}
    async with aiohttp.ClientSession() as anyone:
        for path in ("/", "/?token=", "/?token=" + served.token[:-1] + "x",
                     "/static/js/textual.js", "/download/x", "/ws"):
            async with anyone.get(served.url + path) as response:
                assert response.status == 403, path
                assert "rnntui-token" not in str(response.cookies)
        assert await refused(anyone, f"{served.url}/ws", **origin) == 403
        assert await refused(anyone, f"{served.url}/ws?token=wrong-{served.token}",
                             **origin) == 403
    cookie = f"rnntui-token-{served.port}"
    # unsafe: aiohttp's jar keeps no cookie for an IP address otherwise (a browser does)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as owner:
        async with owner.get(f"{served.url}/?token={served.token}") as page:
            assert page.status == 200
            assert "textual-terminal" in await page.text()
            set_cookie = page.headers["Set-Cookie"]
        for attribute in ("HttpOnly", "SameSite=Strict", "Path=/"):
            assert attribute in set_cookie
        assert {c.key: c.value for c in owner.cookie_jar} == {cookie: served.token}
        async with owner.get(served.url + "/static/js/textual.js") as static:  # the cookie
            assert static.status == 200
        for wrong in ("http://evil.example", f"http://127.0.0.1:{served.port + 1}",
                      "null"):  # the token is right (the cookie), the page is another's
            assert await refused(owner, f"{served.url}/ws", origin=wrong) == 403, wrong
    time.sleep(0.3)  # long enough for an app process, had one been started, to be seen
    assert app_processes(served.proc.pid) == before


def finished_run(runs: Path) -> Path | None:
    for metrics in runs.glob(f"*/{METRICS}"):
        lines = read_metrics(metrics.parent)
        if lines and lines[-1]["event"] == "finished":
            return metrics.parent
    return None


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine: apt-get install"
                    " chromium (playwright cannot download its own here)")
def test_the_served_app_trains_from_a_browser(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{served.url}/?token={served.token}")
        start = page.locator("#start")
        if start.is_visible():
            start.click()
        page.wait_for_selector("#terminal canvas", timeout=30_000)
        page.locator("#terminal").click()  # the page takes the keys
        runs, deadline = served.folder / "runs", time.monotonic() + 120
        while finished_run(runs) is None and time.monotonic() < deadline:
            if not runs.is_dir():  # F5 until the app (still loading) takes it
                page.keyboard.press("F5")
            page.wait_for_timeout(500)
        cookies = page.context.cookies()
        browser.close()
    assert [(c["httpOnly"], c["sameSite"]) for c in cookies] == [(True, "Strict")]
    run = finished_run(runs)
    assert run is not None, "no run reached its finished event"
    assert read_metrics(run)[-1]["epochs"] == 2


async def test_the_connection_past_the_limit_is_refused_and_apps_end_with_the_server(
        tmp_path):
    served = serve(tmp_path, "--max-connections", "2", "--token", "a-token-of-20-chars")
    assert served.token == "a-token-of-20-chars"
    ws_url = f"{served.url}/ws?token={served.token}"
    try:
        async with aiohttp.ClientSession() as owner:
            # One from the page's origin, one with no Origin (a client that is not a
            # browser, which the token alone admits): each starts its app process, and is
            # read as a browser reads it (else closing it waits for a reader).
            live = [await owner.ws_connect(ws_url, origin=served.url),
                    await owner.ws_connect(ws_url)]
            readers = [asyncio.create_task(drain(ws)) for ws in live]
            assert await asyncio.to_thread(
                wait_until, lambda: len(app_processes(served.proc.pid)) == 2)
            apps = app_processes(served.proc.pid)
            third = await owner.ws_connect(ws_url, origin=served.url)
            said = await third.receive(timeout=10)
            assert said.type == aiohttp.WSMsgType.BINARY  # the page shows it in its terminal
            assert b"--max-connections" in said.data
            assert (await third.receive(timeout=10)).type == aiohttp.WSMsgType.CLOSE
            assert third.close_code == 1013  # try again later
            await asyncio.sleep(0.3)
            assert app_processes(served.proc.pid) == apps  # none started for the third
            served.proc.send_signal(signal.SIGTERM)  # as ctrl+c does: its apps end with it
            assert await asyncio.to_thread(served.proc.wait, 20) == 0
            assert not any(map(running_app, apps)), "an app process outlived the server"
            assert await asyncio.gather(*readers) == [1000, 1000]  # closed, not dropped
    finally:
        stop(served)


async def drain(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    async for _ in ws:
        pass
    return ws.close_code


def test_serve_refuses_a_port_in_use_an_open_host_and_a_bad_port(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
        assert "in use" in capsys.readouterr().err
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "--public" in capsys.readouterr().err
    for bad in ("0", "70000", "http"):
        assert main(["serve", "--port", bad]) == 2
        assert "--port" in capsys.readouterr().err
    assert main(["serve", "--config", "no-such.toml"]) == 2


def test_serve_refuses_a_short_token_and_a_bad_connection_limit(capsys):
    for bad in ("", "short", "x" * 15, "sixteen chars ok", "ééééééééééééééééé"):
        assert main(["serve", "--token", bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: --token:") and err.count("\n") == 1, err
    for bad in ("0", "65", "-1", "two"):
        assert main(["serve", "--max-connections", bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: --max-connections:") and err.count("\n") == 1, err
