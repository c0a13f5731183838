"""`rnntui serve`: the app in a web browser, through textual-serve. Each browser tab runs
its own `rnntui app` process on this machine; the server listens on a loopback address
unless told otherwise (--public), and its first line says the `ssh -L` that reaches it."""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import socket
import sys
from pathlib import Path

from .args import BadInput, count


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


def cmd_serve(args: argparse.Namespace) -> int:
    port = count("--port", args.port, 65535)
    host = args.host
    if not loopback(host) and not args.public:
        raise BadInput(f"--host: {host} is not a loopback address: anyone who can reach it"
                       " could train on this machine; add --public to serve it anyway")
    check_port_free(host, port)
    command = app_command(args)
    where = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    print(f"rnntui serve: {where} · from your machine: ssh -L {port}:localhost:{port}"
          f" {socket.gethostname()}, then open http://localhost:{port}", flush=True)
    if args.public:
        print(f"warning: serving on {host}, which is not only this machine: anyone who can"
              f" reach port {port} can use the app and run training here", file=sys.stderr,
              flush=True)
    from textual_serve.server import Server

    Server(command, host=host, port=port, title="rnntui").serve()
    return 0
