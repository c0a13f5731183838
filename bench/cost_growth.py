"""How the cost grows with the model: a 1-layer LSTM at state 64, 128, 256 and 512 and
num_steps 50, 100 and 200 (batch 32), rnntui against a plain PyTorch loop, on
bench/char_speed.py's pydoc text and layout, each run a process of its own.

    pip install -e '.[bench]'
    python bench/cost_growth.py                 # the table, and bench/cost_growth.svg
    python bench/cost_growth.py --rounds 3

Each run is a whole run over a stretch of the text cut to about STEPS batches, so that
the biggest model's run takes a minute, not an hour. Two rates of each: the training's
(rnntui's after its compile, as Finished reports it; PyTorch's after its first step),
which is how the cost grows, plotted; and the whole run's (compile and validation in),
where rnntui's compile of a few seconds weighs on these short runs. Medians over rounds;
the ratios are rnntui's over PyTorch's.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from char_speed import encoded, make_text, measured

STATES = (64, 128, 256, 512)
NUM_STEPS = (50, 100, 200)
BATCH = 32
STEPS = 60  # training batches a run takes (its text cut to fit, plus a 10% validation)
PEERS = ("rnntui", "pytorch")


def text_for(num_steps: int, folder: Path) -> Path:
    """The pydoc text cut to STEPS batches of this window (and its validation part)."""
    path = folder / f"pydoc-{num_steps}.txt"
    if not path.exists():
        make_text(path, int(STEPS * BATCH * num_steps / 0.9) + BATCH * num_steps)
    return path


def svg(rates: dict, out: Path) -> None:
    """steps/s against the state size, one line per peer and num_steps, log scales."""
    import math

    w, h, left, bottom = 640, 400, 70, 50
    lo = min(min(r) for r in rates.values())
    hi = max(max(r) for r in rates.values())
    ly0, ly1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))

    def x(state):
        return left + (w - left - 20) * (math.log2(state) - 6) / 3

    def y(rate):
        return (h - bottom) - (h - bottom - 20) * (math.log10(rate) - ly0) / (ly1 - ly0)

    colours = {50: "#1f77b4", 100: "#2ca02c", 200: "#d62728"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{w / 2}" y="14" text-anchor="middle">1-layer LSTM, batch {BATCH}: '
             f'steps/s (log), rnntui solid, PyTorch dashed</text>']
    for state in STATES:
        parts.append(f'<text x="{x(state)}" y="{h - bottom + 18}" text-anchor="middle">'
                     f'{state}</text>')
    parts.append(f'<text x="{w / 2}" y="{h - 10}" text-anchor="middle">state size</text>')
    for e in range(ly0, ly1 + 1):
        parts.append(f'<line x1="{left}" x2="{w - 20}" y1="{y(10 ** e)}" y2="{y(10 ** e)}" '
                     f'stroke="#ddd"/><text x="{left - 6}" y="{y(10 ** e) + 4}" '
                     f'text-anchor="end">{10 ** e:g}</text>')
    for (peer, ns), r in rates.items():
        points = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in zip(STATES, r, strict=True))
        dash = "" if peer == "rnntui" else ' stroke-dasharray="6,4"'
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colours[ns]}" '
                     f'stroke-width="2"{dash}/>')
        if peer == "rnntui":
            parts.append(f'<text x="{x(STATES[-1]) - 4}" y="{y(r[-1]) - 6}" '
                         f'text-anchor="end" fill="{colours[ns]}">num_steps {ns}</text>')
    parts.append("</svg>")
    out.write_text("\n".join(parts) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1, help="rounds of each (default: 1)")
    ap.add_argument("--svg", default=str(Path(__file__).with_name("cost_growth.svg")))
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rnntui-growth-"))
    print(f"text: pydoc, {encoded(text_for(50, folder))[1]} symbols; batch {BATCH}, "
          f"about {STEPS} steps a run", flush=True)
    rates: dict[tuple[str, int], list[float]] = {}
    print("| num_steps | state | rnntui training steps/s | PyTorch training steps/s | ratio"
          " | whole run: rnntui | PyTorch | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for ns in NUM_STEPS:
        text = text_for(ns, folder)
        for state in STATES:
            key = f"lstmx1x{state}-{ns}-{BATCH}"
            got = {p: [] for p in PEERS}
            whole = {p: [] for p in PEERS}
            for _ in range(args.rounds):
                for peer in PEERS:
                    rate, _, _, training = measured(peer, key, text)
                    got[peer].append(training)
                    whole[peer].append(rate)
            med = {p: statistics.median(v) for p, v in got.items()}
            wm = {p: statistics.median(v) for p, v in whole.items()}
            for p in PEERS:
                rates.setdefault((p, ns), []).append(med[p])
            print(f"| {ns} | {state} | {med['rnntui']:.2f} | {med['pytorch']:.2f} | "
                  f"{med['rnntui'] / med['pytorch']:.2f}x | {wm['rnntui']:.2f} | "
                  f"{wm['pytorch']:.2f} | {wm['rnntui'] / wm['pytorch']:.2f}x |", flush=True)
    svg(rates, Path(args.svg))
    print(f"plot: {args.svg}")


if __name__ == "__main__":
    main()
