"""`rnntui serve`: the app in a web browser, through textual-serve. Each browser tab runs
its own `rnntui app` process on this machine, at most --max-connections at once; the server
listens on a loopback address unless told otherwise (--public), every request needs the
token it makes at start (or --token; see gate.py), and its first line says the URL with the
token and the `ssh -L` that reaches it."""

from __future__ import annotations

import argparse
import ipaddress
import re
import secrets
import shlex
import socket
import sys
from pathlib import Path

from .args import BadInput, count

MIN_TOKEN = 16
TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~-]+")  # URL-safe: as it is in the URL and cookie
APP_MB = 650  # one `rnntui app` process's memory, about what issue 23 measured (645 MB)


def loopback(host: str) -> bool:
    """Whether every address `host` names is a loopback one (BadInput if it names none)."""
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        raise BadInput(f"--host: {host!r} is not an address or a name this machine can"
                       " resolve") from None
    return all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def check_port_free(host: str, port: int) -> None:
    """BadInput unless `port` can be listened on at `host`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as err:
            why = "in use" if err.errno == 98 else (err.strerror or str(err))
            raise BadInput(f"--port: {port} cannot be listened on at {host}: {why}") from None


def app_command(args: argparse.Namespace) -> str:
    """The command each browser tab runs: this Python's `rnntui app`, with the preset or
    config file given (made absolute)."""
    argv = [sys.executable, "-m", "rnntui", "app"]
    if args.preset:
        argv += ["--preset", args.preset]
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise BadInput(f"--config: {args.config}: no such file")
        argv += ["--config", str(path.resolve())]
    return shlex.join(argv)


def serve_token(text: str | None) -> str:
    """--token, checked (at least MIN_TOKEN URL-safe characters), or a new random one."""
    if text is None:
        return secrets.token_urlsafe(32)
    if len(text) < MIN_TOKEN or not TOKEN_CHARS.fullmatch(text):
        raise BadInput(f"--token: needs at least {MIN_TOKEN} characters, each a letter, a"
                       f" digit or one of - _ . ~ (got {len(text)} characters)")
    return text


def cmd_serve(args: argparse.Namespace) -> int:
    port = count("--port", args.port, 65535)
    limit = count("--max-connections", args.max_connections, 64)
    token = serve_token(args.token)
    host = args.host
    if not loopback(host) and not args.public:
        raise BadInput(f"--host: {host} is not a loopback address: anyone who can reach it"
                       " could train on this machine; add --public to serve it anyway")
    check_port_free(host, port)
    command = app_command(args)
    where = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    print(f"rnntui serve: {where}/?token={token} · from your machine: ssh -L"
          f" {port}:localhost:{port} {socket.gethostname()}, then open"
          f" http://localhost:{port}/?token={token}", flush=True)
    print(f"rnntui serve: each connection runs its own app process, ~{APP_MB} MB; at most"
          f" {limit} at once (--max-connections). Ctrl+C ends them all", flush=True)
    if args.public:
        print(f"warning: serving on {host}, which is not only this machine: anyone who can"
              f" reach port {port} can use the app and run training here", file=sys.stderr,
              flush=True)
    from .gate import Gate, GatedServer

    GatedServer(command, Gate(token, port, limit), host=host, port=port,
                title="rnntui").serve()
    return 0
