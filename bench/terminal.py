"""What a person at a real terminal sees: key latency and bytes on the wire, rnntui against
a plain Textual app (bench/plain_app.py), both under tmux at 120x40, in one run.

    python bench/terminal.py [--rounds 15] [--window 10] [--truecolor]

Keys go in with `tmux send-keys`; the screen is read with `tmux capture-pane -p` every 3 ms
until the change shows. Per key, p50 and p90 over the rounds:
- ctrl+p until "Search for commands" shows (escape closes it again);
- a digit typed into a form field until its row shows it (backspace takes it out again):
  the plain app's Input, rnntui's learning_rate (a live change while training);
- F6 until "paused" shows, and F6 back until it goes (rnntui: while training only, F6
  acts on a run).
Bytes: `tmux pipe-pane` over a `--window` of seconds, idle and while training
(`rnntui app --preset r2rt --size 20000000 --epochs 20`, F5).
Goals (issue 10): latency within the plain app's p90 + 30 ms idle and + 50 ms while
training; <= 16 KB/s while training and < 1 KB/s idle. The machine may be shared: compare
within one run; the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = "/work/main/.venv/bin/python" if Path("/work/main/.venv/bin/python").exists() \
    else sys.executable
POLL_S = 0.003
RNNTUI_ARGS = "app --preset r2rt --size 20000000 --epochs 20"  # --app-args adds to it


class Pane:
    """One app in its own tmux server (its own socket), 120x40."""

    def __init__(self, name: str, command: str, cwd: str, truecolor: bool):
        self.socket = f"rnntui-bench-{os.getpid()}-{name}"
        env = f"COLORTERM={'truecolor' if truecolor else ''} PYTHONPATH={shlex.quote(str(ROOT))}"
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40", "-s", name,
                  "-c", cwd, f"env {env} {command}")
        self.name = name

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def wait(self, ok, timeout: float = 30.0) -> float | None:
        """Seconds until `ok(screen)` holds, polling every POLL_S; None on timeout."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if ok(self.screen()):
                return time.perf_counter() - t0
            time.sleep(POLL_S)
        return None

    def press(self, key: str, ok, timeout: float = 10.0) -> float | None:
        """Send `key`, then seconds until `ok(screen)` holds (the send included)."""
        t0 = time.perf_counter()
        self.keys(key)
        left = timeout - (time.perf_counter() - t0)
        waited = self.wait(ok, left)
        return None if waited is None else time.perf_counter() - t0

    def bytes_per_s(self, window: float) -> float:
        """Bytes written to the terminal per second over `window` seconds."""
        with tempfile.NamedTemporaryFile(prefix="rnntui-pipe-", delete=False) as f:
            path = f.name
        self.tmux("pipe-pane", "-o", "-t", self.name, f"cat >> {shlex.quote(path)}")
        time.sleep(window)
        self.tmux("pipe-pane", "-t", self.name)  # no command: closes the pipe
        time.sleep(0.2)
        size = os.path.getsize(path)
        os.unlink(path)
        return size / window

    def close(self) -> None:
        self.tmux("kill-server")


def row_of(screen: str, text: str) -> int:
    return next(i for i, line in enumerate(screen.splitlines()) if text in line)


def row(screen: str, i: int, width: int) -> str:
    lines = screen.splitlines()
    return lines[i][:width] if i < len(lines) else ""


def latencies(pane: Pane, rounds: int, field: tuple[str, int], f6_back: str,
              f6: bool = True) -> dict[str, list[float]]:
    """Seconds per key: palette, digit, F6 (pause) and F6 back, `rounds` of each."""
    out: dict[str, list[float]] = {"ctrl+p palette": [], "digit in a field": []}
    for _ in range(rounds):
        out["ctrl+p palette"].append(pane.press("C-p", lambda s: "Search for commands" in s))
        pane.press("Escape", lambda s: "Search for commands" not in s)
        time.sleep(0.05)
    label, width = field
    for _ in range(rounds):
        i = row_of(pane.screen(), label)
        before = row(pane.screen(), i, width)
        out["digit in a field"].append(pane.press(
            "7", lambda s, i=i, before=before: "7" in row(s, i, width)
            and row(s, i, width) != before))
        pane.press("BSpace", lambda s, i=i, before=before: row(s, i, width) == before)
        time.sleep(0.05)
    if f6:
        out["F6 pause"], out["F6 resume"] = [], []
        for _ in range(rounds):
            out["F6 pause"].append(pane.press("F6", lambda s: "paused" in s))
            out["F6 resume"].append(pane.press("F6", lambda s: "paused" not in s
                                               and f6_back in s))
            time.sleep(0.05)
    return out


def focus_row(pane: Pane, label: str, tries: int = 40) -> None:
    """Tab until the row holding `label` is drawn differently (its input has the focus)."""
    def shown() -> str:
        lines = pane.tmux("capture-pane", "-p", "-e", "-t", pane.name).splitlines()
        return next(line for line in lines if label in line)

    start = shown()
    for _ in range(tries):
        pane.keys("Tab")
        # Wait for this Tab to show before the next: a slow app must not be tabbed past.
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 2.0 and shown() == start:
            time.sleep(0.05)
        if shown() != start:
            pane.keys("End")
            time.sleep(1.0)
            if shown() == start:  # tabbed past it after all
                break
            return
    raise SystemExit(f"could not focus the {label} field")


def pct(values: list[float | None], q: float) -> str:
    ok = sorted(v for v in values if v is not None)
    if not ok:
        return "-"
    return f"{1000 * ok[min(len(ok) - 1, int(q * len(ok)))]:.0f}"


def p90(values: list[float | None]) -> float:
    ok = sorted(v for v in values if v is not None)
    return 1000 * ok[min(len(ok) - 1, int(0.9 * len(ok)))] if ok else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--window", type=float, default=10.0, help="seconds per bandwidth figure")
    ap.add_argument("--truecolor", action="store_true", help="COLORTERM=truecolor in tmux")
    ap.add_argument("--app-args", default="", help="more flags for rnntui app, e.g."
                    " '--cpu-threads 2'")
    args = ap.parse_args()
    global RNNTUI_ARGS
    RNNTUI_ARGS = f"{RNNTUI_ARGS} {args.app_args}".strip()
    cwd = tempfile.mkdtemp(prefix="rnntui-term-")
    load = [os.getloadavg()]

    plain = Pane("plain", f"{PYTHON} {ROOT / 'bench' / 'plain_app.py'}", cwd, args.truecolor)
    try:
        assert plain.wait(lambda s: "a number" in s), "the plain app did not start"
        time.sleep(1.0)
        plain_idle = latencies(plain, args.rounds, ("a number", 120), "running")
        plain_bw = plain.bytes_per_s(args.window)
    finally:
        plain.close()

    app = Pane("rnntui", f"{PYTHON} -m rnntui {RNNTUI_ARGS}", cwd, args.truecolor)
    try:
        assert app.wait(lambda s: "● idle" in s, 60), "rnntui did not reach idle"
        time.sleep(1.0)
        focus_row(app, "learning_rate")
        app_idle = latencies(app, args.rounds, ("learning_rate", 38), "training", f6=False)
        idle_bw = app.bytes_per_s(args.window)
        load.append(os.getloadavg())
        app.keys("F5")
        assert app.wait(lambda s: "step " in s and "● training" in s, 60), "no training"
        time.sleep(2.0)
        train_bw = app.bytes_per_s(args.window)
        app_train = latencies(app, args.rounds, ("learning_rate", 38), "● training")
        still = "● training" in app.screen()
        load.append(os.getloadavg())
    finally:
        app.close()

    print(f"bench/terminal.py: tmux 120x40, {args.rounds} rounds, poll {POLL_S * 1000:.0f} ms, "
          f"{'truecolor' if args.truecolor else '256 colours'}; "
          f"load average (1 min) {', '.join(f'{x[0]:.1f}' for x in load)}")
    print(f"rnntui {RNNTUI_ARGS}, F5{'' if still else '  (the run ended before the last key!)'}")
    print()
    head = f"{'key':<18}{'plain p50':>10}{'p90':>6}{'rnntui idle p50':>17}{'p90':>6}" \
           f"{'goal':>6}{'training p50':>14}{'p90':>6}{'goal':>6}"
    print(head + "   (ms)")
    for key in ("ctrl+p palette", "digit in a field", "F6 pause", "F6 resume"):
        base = p90(plain_idle[key])
        idle = app_idle.get(key, [])
        train = app_train[key]
        mark_i = "" if not idle else ("ok" if p90(idle) <= base + 30 else "MISS")
        mark_t = "ok" if p90(train) <= base + 50 else "MISS"
        print(f"{key:<18}{pct(plain_idle[key], 0.5):>10}{pct(plain_idle[key], 0.9):>6}"
              f"{pct(idle, 0.5) if idle else 'n/a':>17}{pct(idle, 0.9) if idle else '':>6}"
              f"{mark_i:>6}{pct(train, 0.5):>14}{pct(train, 0.9):>6}{mark_t:>6}")
    print()
    print(f"bytes to the terminal over {args.window:g} s: plain idle {plain_bw / 1000:.2f} KB/s,"
          f" rnntui idle {idle_bw / 1000:.2f} KB/s (goal < 1: "
          f"{'ok' if idle_bw < 1000 else 'MISS'}), rnntui training {train_bw / 1000:.1f} KB/s "
          f"(goal <= 16: {'ok' if train_bw <= 16000 else 'MISS'})")
    lost = sum(v is None for d in (plain_idle, app_idle, app_train) for x in d.values()
               for v in x)
    if lost:
        print(f"{lost} key(s) never showed within 10 s (left out of the figures)")


if __name__ == "__main__":
    main()
