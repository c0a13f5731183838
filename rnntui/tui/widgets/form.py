"""The configuration form: preset, data (with an editable rules table), model, training.

Every field is parsed by rnntui.config as the user types; a problem shows inline under its
field, and a cross-field problem (a rule set that leaves [0, 1], a size too small for one
batch) under the form. Nothing typed can raise. The form posts `ConfigForm.Changed` with
the valid config, or None while anything is invalid. A data file is never read here (the
UI thread): the form hands it to `read_file`, which reads it in the background and posts
FileChecked back; until then the config is None (`reading`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.geometry import Size
from textual.message import Message
from textual.widgets import Button, Input, Label, Select, Static, Switch

from ...config import (
    FIELDS,
    PRESETS,
    Config,
    ConfigError,
    cross_errors,
    format_value,
    parse_value,
    preset,
    preset_of,
)
from ..jobs import FileChecked
from ..runstate import floors_of

ReadFile = Callable[[int, Config, Callable[[Message], object]], None]
SECTIONS = (("Data", "data"), ("Model", "model"), ("Training", "train"))
# Up/down steps: integers by 1; these floats by a factor, so a rate can move by decades.
FACTOR_STEPS = {"learning_rate": 2.0, "clip_norm": 2.0}
ADD_STEPS = {"base": 0.05}
# Where the series comes from; each source shows only the data fields that apply to it.
SOURCES = (("rules generator", "rules"), ("file", "file"))
SOURCE_FIELDS = {"rules": ("size", "base", "rules", "data_mode", "val_size"),
                 "file": ("data_file", "val_fraction", "data_mode")}


class FieldInput(Input):
    """An Input in a box of fixed size that never re-lays out the screen as it is typed in.

    Textual's Input sets its virtual size (a layout reactive) to the text's width at every
    keystroke, and a layout pass arranges the whole screen: ~150 widgets here, for a box
    whose size the stylesheet fixes. Only its scroll range needs the width: set quietly.
    """

    def _watch_value(self, value: str) -> None:
        self.set_reactive(Input.virtual_size, Size(self.content_width, 1))
        super()._watch_value(value)


class NumberInput(FieldInput):
    """An Input for a numeric field; up and down step its value."""

    BINDINGS = [Binding("up", "step(1)", "step up", show=False),
                Binding("down", "step(-1)", "step down", show=False)]

    def __init__(self, field_name: str, **kwargs):
        super().__init__(**kwargs)
        self.field_name = field_name

    def action_step(self, direction: int) -> None:
        name = self.field_name.split(".")[0]
        kind = FIELDS[name].kind if name in FIELDS else ("int" if "lag" in name else "float")
        try:
            value = float(self.value.replace("_", ""))
        except ValueError:
            return
        if kind == "int":
            new: Any = int(value) + direction
        elif name in FACTOR_STEPS:
            f = FACTOR_STEPS[name]
            new = value * f if direction > 0 else value / f
            new = float(f"{new:.6g}")
        else:
            new = round(value + direction * ADD_STEPS.get(name, 0.05), 6)
        self.value = f"{new:g}" if isinstance(new, float) else str(new)


class RuleRow(Horizontal):
    """One rule: lag and delta inputs and a remove button."""

    def __init__(self, lag: int | str, delta: float | str, index: int):
        super().__init__(classes="rule-row")
        self.lag, self.delta, self.index = lag, delta, index

    def compose(self) -> ComposeResult:
        yield Label("t-", classes="rule-prefix")
        yield NumberInput("rule.lag", value=str(self.lag), classes="rule-lag",
                          id=f"rule-lag-{self.index}")
        yield NumberInput("rule.delta", value=f"{self.delta:g}" if isinstance(self.delta, float)
                          else str(self.delta), classes="rule-delta",
                          id=f"rule-delta-{self.index}")
        yield Button("−", classes="rule-remove", id=f"rule-remove-{self.index}")


class ConfigForm(VerticalScroll):
    """All config fields; `config` is the valid Config, or None while anything is invalid."""

    @dataclass
    class Changed(Message):
        form: ConfigForm
        config: Config | None
        changed: str  # the field that changed, "" for a whole new config


    def __init__(self, config: Config, read_file: ReadFile | None = None, **kwargs):
        """`read_file(ask, config, post)`: reads the config's data file away from the UI
        thread and posts FileChecked(ask, ...) with `post` (without it, a file source
        stays unread: tests of other fields)."""
        super().__init__(**kwargs)
        self.read_file = read_file
        self._asks = itertools.count(1)
        self._ask = 0  # the data-file read in flight
        self._file_floors: tuple = ()  # the floors of the data file, once read
        self._initial = config
        self._errors: dict[str, str] = {}
        self._rule_count = 0
        self._loading = False
        self._syncing_preset = False
        self._hinted = ""  # the field a run's problem is shown on (see hint)
        self._reading: str | None = None  # the field whose edit waits for a file's read
        self.config: Config | None = config

    # ---- building -------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(classes="field"):
            yield Label("preset", classes="field-label")
            yield Select([(name, name) for name in PRESETS], prompt="custom", id="preset",
                         allow_blank=True)
        for title, section in SECTIONS:
            yield Static(title, classes="section-title")
            if section == "data":
                with Horizontal(classes="field", id="row-source"):
                    yield Label("source", classes="field-label")
                    yield Select(SOURCES, value=self._source_of(self._initial),
                                 allow_blank=False, id="source")
            for name, f in FIELDS.items():
                if f.section != section:
                    continue
                if name == "rules":
                    yield from self._rules_block()
                    continue
                with Horizontal(classes="field", id=f"row-{name}"):
                    yield Label(name, classes="field-label")
                    yield self._widget_for(name)
                yield Static("", classes="field-error", id=f"error-{name}", markup=False)

    def _rules_block(self) -> ComposeResult:
        yield Label("rules  P(Y=1) += delta·X[t-lag]", classes="rules-title", markup=False)
        with Vertical(id="rules"):
            for lag, delta in self._initial.data.rules:
                self._rule_count += 1
                yield RuleRow(lag, delta, self._rule_count)
        yield Button("+ add rule", id="rule-add")
        yield Static("", classes="field-error", id="error-rules", markup=False)

    def _widget_for(self, name: str):
        f, value = FIELDS[name], self._initial.get(name)
        if f.kind == "choice":
            return Select([(c, c) for c in f.choices], value=value, allow_blank=False,
                          id=f"field-{name}")
        if f.kind == "bool":
            return Switch(value=value, id=f"field-{name}")
        if f.kind in ("device", "path"):
            return FieldInput(value=value, id=f"field-{name}", select_on_focus=False)
        return NumberInput(name, value=format_value(name, value), id=f"field-{name}",
                           select_on_focus=False)

    def on_mount(self) -> None:
        self._show_source(self._source_of(self._initial))
        self.revalidate("")

    @staticmethod
    def _source_of(config: Config) -> str:
        return "file" if config.data.data_file else "rules"

    @property
    def source(self) -> str:
        return str(self.query_one("#source", Select).value)

    def _show_source(self, source: str) -> None:
        """Show the data fields of a source and hide the other's (their values stay)."""
        shown = SOURCE_FIELDS[source]
        for other in SOURCE_FIELDS.values():
            for name in other:
                on = name in shown
                if name == "rules":
                    for w in self.query(".rules-title, #rules, #rule-add"):
                        w.display = on
                    continue
                self.query_one(f"#row-{name}").display = on
                if not on:
                    self.query_one(f"#error-{name}").display = False

    async def _set_rules(self, rules) -> None:
        box = self.query_one("#rules", Vertical)
        await box.remove_children()
        for lag, delta in rules:
            self._rule_count += 1
            await box.mount(RuleRow(lag, delta, self._rule_count))

    # ---- reading --------------------------------------------------------------
    def _rules_text(self) -> str:
        """The rules table as 'lag:delta, ...'; an empty cell is named by its row."""
        parts = []
        for i, row in enumerate(self.query(RuleRow), 1):
            lag = row.query_one(".rule-lag", Input).value.strip()
            delta = row.query_one(".rule-delta", Input).value.strip()
            if not lag:
                raise ConfigError("rules", f"the lag of rule {i} is empty")
            if not delta:
                raise ConfigError("rules", f"the delta for lag {lag} is empty")
            parts.append(f"{lag}:{delta}")
        return ", ".join(parts)

    def _raw(self, name: str) -> Any:
        if name == "rules":
            return self._rules_text()
        if name == "data_file" and self.source == "rules":
            return ""  # the generator: the typed path waits for the file source
        w = self.query_one(f"#field-{name}")
        return w.value

    def revalidate(self, changed: str) -> None:
        """Parse every field, show each problem inline, then the cross-field checks; a
        data file goes to be read (NeedsFile) before the config is posted."""
        values, errors = {}, {}
        for name in FIELDS:
            try:
                values[name] = parse_value(name, self._raw(name))
            except ConfigError as err:
                errors[name] = str(err)
        for name, message in cross_errors(values).items():
            errors.setdefault(name, message)
        if self.source == "file" and not values.get("data_file"):
            errors.setdefault("data_file", "data_file: give the path of a .npz, .csv or .txt"
                                           " file")
        config = None if errors else Config().with_values(**values)
        self._reading = None
        if config is not None and config.data.data_file:
            self._reading, self._ask = changed, next(self._asks)
            self._settle(errors, None)
            if self.read_file is not None:
                self.read_file(self._ask, config, self.post_message)
            return
        self._settle(errors, config)
        self.post_message(self.Changed(self, config, changed))

    def on_file_checked(self, message: FileChecked) -> None:
        """The latest read's answer: the config with the file's sizes and its floors, or
        the file's one-line problem, shown on data_file. An older read's is dropped."""
        message.stop()
        if self._reading is None or message.ask != self._ask:
            return  # edited since: a newer read is on its way
        changed, self._reading = self._reading, None
        self._file_floors = tuple((f.name, f.loss) for f in message.floors)
        self._settle({"data_file": message.error} if message.error else {}, message.config)
        self.post_message(self.Changed(self, message.config, changed))

    def floors_of(self, config: Config) -> tuple[tuple[str, float], ...]:
        """The floors `config` (the form's) draws: analytic, or its data file's once read."""
        return self._file_floors if config.data.data_file else floors_of(config)

    @property
    def reading(self) -> bool:
        """The data file is being read: the config waits for it."""
        return self._reading is not None

    def _settle(self, errors: dict[str, str], config: Config | None) -> None:
        """Show `errors` inline (touching only the boxes that change) and hold `config`."""
        hinted, self._hinted = self._hinted, ""
        for name in FIELDS:
            msg = errors.get(name, "")
            if name in SOURCE_FIELDS["file"] and self.source == "rules":
                msg = ""  # a hidden field shows nothing
            if msg == self._errors.get(name, "") and name != hinted:
                continue  # untouched boxes cost no layout
            box = self.query_one(f"#error-{name}", Static)
            box.update(msg)
            box.display = bool(msg)
            for row in self.query(f"#row-{name}"):
                row.set_class(bool(msg), "-invalid")
        self._errors = errors
        self.config = config
        self._show_preset(config)

    def _show_preset(self, config: Config | None) -> None:
        """The preset selector names the preset the form holds exactly, else 'custom'."""
        name = preset_of(config) if config is not None else None
        select = self.query_one("#preset", Select)
        want = name if name is not None else Select.NULL
        if select.value != want:
            self._syncing_preset = True
            select.value = want

    def hint(self, name: str, message: str) -> None:
        """Show a problem a run found with a valid field (replicas that this machine does not
        have) where the field is, without making the form invalid; the next edit of the form
        or an empty message clears it. The run state owns the problem: this only draws it."""
        if name not in FIELDS:
            return
        message = message or self._errors.get(name, "")
        box = self.query_one(f"#error-{name}", Static)
        box.update(message)
        box.display = bool(message)
        for row in self.query(f"#row-{name}"):
            row.set_class(bool(message), "-invalid")
        self._hinted = name if message else ""

    @property
    def errors(self) -> dict[str, str]:
        return dict(self._errors)

    # ---- writing --------------------------------------------------------------
    async def load(self, config: Config) -> None:
        """Show a whole config (a preset); one Changed follows."""
        self._loading = True
        try:
            source = self._source_of(config)
            self.query_one("#source", Select).value = source
            self._show_source(source)
            for name in FIELDS:
                value = config.get(name)
                if name == "rules":
                    await self._set_rules(value)
                    continue
                w = self.query_one(f"#field-{name}")
                w.value = value if FIELDS[name].kind in ("choice", "bool") else format_value(
                    name, value)
        finally:
            self._loading = False
        self.call_after_refresh(self.revalidate, "")

    # ---- events ---------------------------------------------------------------
    @on(Input.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    def _field_changed(self, event) -> None:
        event.stop()
        wid = event.control.id or ""
        if wid == "preset":
            if self._syncing_preset:  # set by _show_preset: the form already holds it
                self._syncing_preset = False
                return
            if event.value in PRESETS:
                self.run_worker(self.load(preset(event.value)), exclusive=True, group="form")
            return
        if self._loading:
            return
        if wid == "source":
            self._show_source(str(event.value))
            self.revalidate("data_file")
            return
        name = wid.removeprefix("field-") if wid.startswith("field-") else "rules"
        self.revalidate(name)

    @on(Button.Pressed, "#rule-add")
    async def _add_rule(self, event: Button.Pressed) -> None:
        event.stop()
        used = {lag for lag, _ in (self.config.data.rules if self.config else ())}
        lag = next(n for n in range(1, 2000) if n not in used)
        self._rule_count += 1
        await self.query_one("#rules", Vertical).mount(RuleRow(lag, 0.0, self._rule_count))
        self.query_one(f"#rule-delta-{self._rule_count}", Input).focus()
        self.revalidate("rules")

    @on(Button.Pressed, ".rule-remove")
    async def _remove_rule(self, event: Button.Pressed) -> None:
        event.stop()
        row = event.button.parent
        if row is not None:
            await row.remove()
        self.revalidate("rules")
