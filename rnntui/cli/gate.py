"""The gate in front of `rnntui serve`: textual-serve's server, which only the holder of its
token can use, from its own page, with a bound on the app processes it runs.

Every request (the page, its static files, downloads, the websocket) needs the token, as
`?token=` or as the cookie the first tokened response sets; without it, 403 and nothing
runs. The websocket, which is what starts an app process, also needs an Origin that is the
address the request came to (a missing one, from a client that is not a browser, is
allowed: the token still has to be right), and a free place among `limit` live ones. When
the server stops, it ends every live one, and so its app process, at once."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

import aiohttp_jinja2
from aiohttp import WSCloseCode, web
from textual_serve.server import Server, to_int

FORBIDDEN = ("rnntui serve: this server needs its token: open the URL with ?token= that"
             " `rnntui serve` printed when it started\n")


class Gate:
    """Who may use the server: requests with the token, a websocket from the page's own
    origin, at most `limit` websockets (each an app process) at once. `middleware` is the
    aiohttp middleware that enforces it; `end_all` ends the live websockets."""

    def __init__(self, token: str, port: int, limit: int) -> None:
        self.token = token.encode()
        # Cookies are not kept apart by port: one name per port, so two servers on one host
        # (two users, two ports) never replace each other's.
        self.cookie = f"rnntui-token-{port}"
        self.limit = limit
        self.sessions: set[asyncio.Task[Any]] = set()  # the live websockets' handlers

    def _matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """403 without the token; a tokened `?token=` response sets the cookie; the
        websocket also passes the Origin and limit checks."""
        by_query = self._matches(request.query.get("token"))
        if not by_query and not self._matches(request.cookies.get(self.cookie)):
            raise web.HTTPForbidden(text=FORBIDDEN)
        if request.match_info.route.name == "websocket":
            return await self._websocket(request, handler)
        response = await handler(request)
        if by_query and not response.prepared:
            # The page builds its static and websocket URLs without the token: the cookie,
            # sent only to this host and only from its own pages (Strict), carries it there.
            response.set_cookie(self.cookie, request.query["token"], httponly=True,
                                samesite="Strict", path="/")
        return response

    async def _websocket(self, request: web.Request, handler: Any) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() not in (f"http://{request.host}".lower(),
                                                         f"https://{request.host}".lower()):
            # Another page in the owner's browser, say one served at another port of this
            # host: the same site to a browser, so the Strict cookie goes with it.
            raise web.HTTPForbidden(text=f"rnntui serve: a websocket from {origin} is not"
                                         f" from this server's page\n")
        if len(self.sessions) >= self.limit:
            return await self._refuse(request)
        task = asyncio.current_task()
        assert task is not None
        self.sessions.add(task)  # no await since the test: no other connection slips in
        try:
            return await handler(request)  # returns once its app process has ended
        finally:
            self.sessions.discard(task)

    async def end_all(self, timeout: float = 20) -> None:
        """Cancel every live websocket's handler and wait (`timeout` seconds at most) for
        them to end: textual-serve's handler then asks its app to quit, as closing the tab
        does, and waits for it to exit."""
        # aiohttp does the same, but only after letting handlers end by themselves for 60 s,
        # which a websocket never does: so many seconds of a stopped server's apps running.
        for task in self.sessions:
            task.cancel()
        if self.sessions:
            await asyncio.wait(set(self.sessions), timeout=timeout)

    async def _refuse(self, request: web.Request) -> web.WebSocketResponse:
        """The websocket opened and closed at once (code 1013, try again later), no app
        started; the page writes the binary frame to its terminal, so its user reads why."""
        why = (f"rnntui serve: {self.limit} connections are open, the most it serves at once"
               f" (--max-connections); close one, then Restart")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_bytes(f"\r\n  {why}\r\n".encode())
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=why.encode()[:123])
        return ws


class GatedServer(Server):
    """textual-serve's Server behind a Gate. Its page takes its URLs from the address the
    browser used (textual-serve's own use the listening host, which through `ssh -L` is
    another host to the browser: no cookie, a foreign Origin)."""

    def __init__(self, command: str, gate: Gate, **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        self.gate = gate

    async def _make_app(self) -> web.Application:
        # textual-serve's one place that makes the aiohttp application; it has no hook for
        # middlewares, which can still be added until the application starts.
        app = await super()._make_app()
        app.middlewares.append(self.gate.middleware)
        return app

    async def on_shutdown(self, app: web.Application) -> None:
        """Every app process ended before the server goes."""
        await self.gate.end_all()

    async def on_startup(self, app: web.Application) -> None:
        """Nothing: textual-serve's banner shows the URL without its token, which would only
        be refused; `rnntui serve` has printed the right one."""

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """textual-serve's page, with its websocket on the host and port the browser asked
        for and its static files on a path of the same origin."""
        router = request.app.router
        scheme = "wss" if request.secure else "ws"
        static = str(router["static"].url_for(filename="/")).rstrip("/") + "/"
        return {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{scheme}://{request.host}{router['websocket'].url_for()}",
            "config": {"static": {"url": static}},
            "application": {"name": self.title},
        }
