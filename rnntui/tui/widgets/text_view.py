"""A file's series shown as its own symbols (text as text): the stretch with each position
shaded by the model's surprise at the next symbol, the model's three most likely next
symbols under each position, and a sample drawn from the model at a temperature.

Pure functions of a Predictions event and the run's symbols (Started.symbols); the
predictions panel lays them out.
"""

from __future__ import annotations

import math

from rich.text import Text

from .drawn import runs

# Surprise -log P(the true next symbol) in nats, and the background each band gets: none
# for a symbol the model saw coming, deeper red the less it did (ln 2, ln 10, ln 50).
SURPRISE = ((0.69, ""), (2.3, "on #3a0000"), (3.9, "on #6f0000"), (math.inf, "on #a00000"))
# A top symbol's colour by its probability: sure, likely, a guess.
SURE = ((0.5, "bold green"), (0.15, "yellow"), (0.0, "grey50"))
LABEL = 6  # the rows' label column ("text", "next", ...)


def glyph(symbol: str, space: str = " ") -> str:
    """One column for a symbol: newline ⏎, tab →, a space as `space`, other control
    characters ·, a longer symbol by its first character."""
    if symbol == "\n":
        return "⏎"
    if symbol == "\t":
        return "→"
    if symbol == " ":
        return space
    if not symbol or not symbol[0].isprintable():
        return "·"
    return symbol[0]


def _band(value: float, bands) -> str:
    for bound, style in bands:
        if value < bound:
            return style
    return bands[-1][1]


def surprise_style(p: float) -> str:
    """The background of a position whose true next symbol had probability p."""
    return _band(-math.log(max(p, 1e-9)) if math.isfinite(p) else math.inf, SURPRISE)


def sure_style(q: float) -> str:
    for bound, style in SURE:
        if q >= bound:
            return style
    return SURE[-1][1]


def text_rows(event, inputs: list[str], targets: list[str], width: int) -> Text:
    """The stretch as text (shaded by surprise) and under it the model's top next symbols,
    one row per rank, each coloured by its probability: as many positions as fit."""
    n = max(0, min(len(event.x), width - LABEL))
    out = Text("text".ljust(LABEL), style="bold")
    out.append_text(runs((glyph(_at(inputs, c)), surprise_style(p))
                         for c, p in zip(event.x[:n], event.p[:n], strict=True)))
    ranks = max((len(t) for t in event.top[:n]), default=0)
    for rank in range(ranks):
        out.append("\n" + ("next" if rank == 0 else "").ljust(LABEL), style="bold")
        out.append_text(runs(_top_piece(t, rank, targets) for t in event.top[:n]))
    out.no_wrap = True
    return out


def _top_piece(top: list, rank: int, targets: list[str]) -> tuple[str, str]:
    if rank >= len(top):
        return " ", ""
    code, q = top[rank]
    return glyph(_at(targets, int(code)), "␣"), sure_style(q)


def _at(symbols: list[str], code: int) -> str:
    return symbols[code] if 0 <= code < len(symbols) else "?"


def detail_line(event, targets: list[str]) -> Text:
    """The numbers behind the rows, where the model was most surprised in the stretch: the
    true next symbol's probability and the model's top three."""
    n = min(len(event.p), len(event.top))
    if not n:
        return Text("")
    finite = [(p if math.isfinite(p) else -1.0) for p in event.p[:n]]
    at = min(range(n), key=finite.__getitem__)
    true = glyph(_at(targets, event.y[at]), "␣")
    guesses = " · ".join(f"{glyph(_at(targets, int(c)), '␣')} {q:.2f}"
                         for c, q in event.top[at])
    line = Text(f"most surprised at {at + 1}: ", style="dim")
    line.append(f"{true!s} p {event.p[at]:.3f}", style="bold red")
    line.append(f"; expected {guesses}", style="dim")
    return line


def sample_text(event, symbols: list[str], temperature: str, width: int) -> Text:
    """The sample drawn at `temperature` after its prime (dimmed), wrapped at `width`."""
    codes = event.samples.get(temperature)
    if codes is None:
        return Text("")
    head = Text(f"sample at temperature {temperature} (ctrl+up/down) after the stretch's"
                f" first {len(event.prime)}:\n", style="bold")
    body = Text("".join(glyph(_at(symbols, c)) for c in event.prime), style="grey50")
    body.append("".join(glyph(_at(symbols, c)) for c in codes))
    lines = [body[i:i + width] for i in range(0, len(body), max(1, width))]
    return Text("\n").join([head[:-1], *lines]) if lines else head


def temperatures(event) -> list[str]:
    """The temperatures the event's samples were drawn at, coolest first."""
    return sorted(event.samples, key=float)
