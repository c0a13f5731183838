"""Config: every bad value is a one-line ConfigError naming the field and what is allowed;
TOML round trips; presets are valid."""

from __future__ import annotations

import math

import pytest

from rnntui.config import (
    FIELDS,
    PRESETS,
    Config,
    ConfigError,
    load_toml,
    parse_rules,
    parse_value,
    preset,
    preset_of,
    to_toml,
    validate,
)


def expect_error(field: str, fn, *args, says: tuple[str, ...] = (), **kwargs) -> ConfigError:
    """fn(*args, **kwargs) must raise a ConfigError for `field` whose one-line message
    starts with the field's name and contains every phrase in `says`."""
    with pytest.raises(ConfigError) as info:
        fn(*args, **kwargs)
    err = info.value
    text = str(err)
    assert err.field == field, text
    assert text.startswith(f"{field}: "), text
    assert "\n" not in text, text
    for phrase in says:
        assert phrase in text, f"{phrase!r} not in {text!r}"
    return err


def with_values(**values) -> Config:
    return validate(Config().with_values(**values))


# -- defaults and presets ----------------------------------------------------------------


def test_defaults_are_the_seed_task_and_valid():
    cfg = validate(Config())
    assert cfg.data.base == 0.5
    assert cfg.data.rules == ((3, 0.5), (8, -0.25))
    assert (cfg.train.num_steps, cfg.train.batch_size, cfg.model.state_size) == (5, 200, 4)
    assert cfg.train.carry_state is True
    assert set(cfg.flat()) == set(FIELDS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_load_and_validate(name):
    cfg = preset(name)
    assert validate(cfg) == cfg
    for field, value in PRESETS[name].items():
        assert cfg.get(field) == value


def test_r2rt_preset_is_the_seed_settings():
    cfg = preset("r2rt")
    assert cfg.model.cell == "basic"
    assert cfg.train.optimizer == "adagrad"
    assert cfg.train.learning_rate == 0.1
    assert cfg.data.size == 1_000_000


def test_unknown_preset():
    expect_error("preset", preset, "nope", says=("'nope'", "r2rt", "fast"))


def test_the_fast_preset_keeps_its_old_name_and_presets_are_recognised():
    assert preset("default") == preset("fast") != preset("r2rt")
    assert preset_of(Config()) == "r2rt"  # what `rnntui` starts with
    assert preset_of(preset("fast")) == "fast"
    assert preset_of(preset("fast").with_values(state_size=3)) is None


def test_unknown_field_in_with_values():
    expect_error("sizee", Config().with_values, sizee=3)


# -- single fields -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, text, says",
    [
        ("size", "abc", ("'abc' is not an integer",)),
        ("size", "12.5", ("is not an integer",)),
        ("size", "-1", ("out of range", "from 1")),
        ("size", "0", ("out of range", "from 1")),
        ("val_size", "-5", ("out of range", "from 1")),
        ("batch_size", "-200", ("out of range", "from 1")),
        ("seed", "-1", ("out of range", "from 0")),
        ("base", "abc", ("'abc' is not a number",)),
        ("base", "nan", ("not a finite number",)),
        ("base", "inf", ("not a finite number",)),
        ("base", "1.5", ("out of range", "from 0 to 1")),
        ("base", "-0.1", ("out of range", "from 0 to 1")),
        ("learning_rate", "0", ("out of range", "> 0")),
        ("learning_rate", "-0.1", ("out of range", "> 0")),
        ("learning_rate", "inf", ("not a finite number",)),
        ("learning_rate", "-inf", ("not a finite number",)),
        ("learning_rate", "NaN", ("not a finite number",)),
        ("learning_rate", "abc", ("not a number",)),
        ("clip_norm", "-1", ("out of range", "from 0")),
        ("size", "nan", ("not an integer",)),
        ("epochs", "inf", ("not an integer",)),
        ("num_steps", "201", ("out of range", "from 1 to 200")),
        ("num_layers", "9", ("out of range", "from 1 to 8")),
        ("state_size", "0", ("out of range",)),
        ("cell", "transformer", ("'transformer'", "one of basic, rnn, gru, lstm")),
        ("optimizer", "lbfgs", ("'lbfgs'", "one of adagrad, adam, rmsprop, sgd")),
        ("data_mode", "sometimes", ("one of fresh, fixed",)),
        ("carry_state", "maybe", ("'maybe'", "true or false")),
        ("carry_state", "2", ("true or false",)),
    ],
)
def test_bad_value_is_rejected_naming_field_and_allowed(name, text, says):
    expect_error(name, parse_value, name, text, says=says)


@pytest.mark.parametrize(
    "name, value",
    [("base", math.nan), ("learning_rate", math.inf), ("clip_norm", -math.inf),
     ("base", math.inf), ("size", True), ("learning_rate", False)],
)
def test_non_finite_and_bool_python_values_rejected(name, value):
    expect_error(name, parse_value, name, value)


@pytest.mark.parametrize(
    "values, field",
    [(dict(base=math.nan), "base"), (dict(learning_rate=0.0), "learning_rate"),
     (dict(size=-10), "size"), (dict(val_size=-10), "val_size"),
     (dict(cell="cnn"), "cell"), (dict(optimizer="lion"), "optimizer"),
     (dict(carry_state="perhaps"), "carry_state"), (dict(epochs=0), "epochs")],
)
def test_validate_rejects_bad_fields(values, field):
    expect_error(field, with_values, **values)


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("size", "1_000", 1000),
        ("size", "1e3", 1000),
        ("size", " 42 ", 42),
        ("base", "0.25", 0.25),
        ("learning_rate", "1e-3", 0.001),
        ("cell", "LSTM", "lstm"),
        ("carry_state", "off", False),
        ("carry_state", "Yes", True),
        ("carry_state", True, True),
        ("clip_norm", "0", 0.0),
    ],
)
def test_good_values_parse(name, text, expected):
    assert parse_value(name, text) == expected


def test_unknown_field_in_parse_value():
    expect_error("colour", parse_value, "colour", "red", says=("unknown field",))


# -- rules -------------------------------------------------------------------------------


def test_rules_parse_and_sort():
    assert parse_rules("8:-0.25, 3:0.5") == ((3, 0.5), (8, -0.25))
    assert parse_rules("1:0.6;5:0.2") == ((1, 0.6), (5, 0.2))
    assert parse_rules("") == ()
    assert parse_value("rules", [[3, 0.5], [8, -0.25]]) == ((3, 0.5), (8, -0.25))


@pytest.mark.parametrize(
    "text, says",
    [
        ("3", ("'3' is not LAG:DELTA",)),
        ("3:", ("is not a number",)),
        ("x:0.5", ("'x' is not an integer",)),
        ("3:abc", ("'abc' is not a number",)),
        ("3:0.5:1", ("is not a number",)),
        ("0:0.5", ("lag 0", "out of range", "1 to 1000")),
        ("-2:0.5", ("lag -2", "out of range")),
        ("1001:0.1", ("lag 1001", "out of range")),
        ("3:0.1, 3:0.2", ("lag 3 is repeated",)),
        ("3:1.5", ("delta 1.5", "-1 to 1")),
        ("3:nan", ("not a finite number",)),
        (", ".join(f"{lag}:0.01" for lag in range(1, 12)), ("11 rules", "at most 10")),
    ],
)
def test_malformed_rules_rejected(text, says):
    expect_error("rules", parse_rules, text, says=says)


def test_rules_from_toml_shape_rejected_when_not_pairs():
    expect_error("rules", parse_value, "rules", [[3]])
    expect_error("rules", parse_value, "rules", [3, 0.5])


@pytest.mark.parametrize(
    "base, rules, says",
    [
        (0.5, ((3, 0.9),), ("X[t-3]=1", "1.4", "[0, 1]")),
        (0.9, ((3, 0.5), (8, -0.25)), ("X[t-3]=1, X[t-8]=0", "1.4", "base 0.9")),
        (0.1, ((8, -0.25),), ("X[t-8]=1", "-0.15", "[0, 1]")),
    ],
)
def test_probability_outside_unit_interval_names_the_combination(base, rules, says):
    expect_error("rules", with_values, base=base, rules=rules, says=says)


def test_probabilities_exactly_zero_and_one_allowed():
    with_values(base=0.25, rules=((3, 0.75),))
    with_values(base=0.25, rules=((3, -0.25),))
    with_values(base=0.2, rules=((1, 0.6), (5, 0.2)))


# -- cross-field -------------------------------------------------------------------------


def test_size_too_small_for_one_batch():
    # 200 x 5 = 1000 steps make one batch.
    with_values(size=1000, val_size=1000)
    expect_error("size", with_values, size=999,
                 says=("999", "too small", "batch_size x num_steps", "1000"))
    expect_error("val_size", with_values, val_size=999, says=("too small", "1000"))
    expect_error("size", with_values, size=100, batch_size=10, num_steps=11, says=("110",))


def test_validate_never_raises_anything_but_config_error_for_text_values():
    """Values given as text (as a form would give them) must not crash the cross-field
    checks: validate either rejects them with a ConfigError or accepts them as numbers.

    Found failing: '200' * 5 is string repetition and the size check then raises TypeError.
    """
    for values in (dict(batch_size="200"), dict(size="2_000")):
        try:
            cfg = with_values(**values)
        except ConfigError:
            continue
        name, text = next(iter(values.items()))
        assert cfg.get(name) == parse_value(name, text)


def test_validate_does_not_keep_a_truthy_string_for_false():
    """carry_state='no' passes the field check; the validated config must then say False
    (or validate must reject it), never keep the truthy string 'no' for the trainer.

    Found failing: validate returns the config unchanged, carry_state == 'no'.
    """
    try:
        cfg = with_values(carry_state="no")
    except ConfigError:
        return
    assert cfg.train.carry_state is False


# -- TOML --------------------------------------------------------------------------------

CUSTOM = dict(size=12_345, seed=7, base=0.2, rules=((1, 0.6), (5, 0.2)), data_mode="fixed",
              val_size=5_000, cell="lstm", num_layers=2, state_size=8, num_steps=7,
              batch_size=3, optimizer="rmsprop", learning_rate=1e-5, clip_norm=2.5, epochs=4,
              carry_state=False)


@pytest.mark.parametrize("cfg", [Config(), preset("r2rt"), preset("fast"),
                                 Config().with_values(**CUSTOM)],
                         ids=["defaults", "r2rt", "fast", "custom"])
def test_toml_round_trip(tmp_path, cfg):
    path = tmp_path / "config.toml"
    path.write_text(to_toml(cfg), encoding="utf-8")
    # Loaded over a different base, so every value must come from the file.
    other = Config().with_values(size=5555, cell="gru", carry_state=True, rules=((2, 0.1),))
    back = load_toml(path, other)
    assert back == cfg
    assert back.flat() == cfg.flat()


def test_toml_flat_keys_and_partial_files(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('cell = "gru"\n[train]\nnum_steps = 10\ncarry_state = false\n'
                    'learning_rate = 1\n[data]\nrules = "2:0.5"\n', encoding="utf-8")
    cfg = load_toml(path, preset("r2rt"))
    assert cfg.model.cell == "gru"
    assert cfg.train.num_steps == 10
    assert cfg.train.carry_state is False
    assert cfg.data.rules == ((2, 0.5),)
    assert cfg.data.size == 1_000_000  # kept from the base


@pytest.mark.parametrize(
    "text, field, says",
    [
        ("[data]\nsizee = 5\n", "sizee", ("unknown field",)),
        ("[foo]\nx = 1\n", "foo", ("unknown field",)),
        ("colour = 'red'\n", "colour", ("unknown field",)),
        ("[model]\nsize = 5\n", "size", ("unknown field", "[model]")),
        ("size = = 3\n", "config", ("not valid TOML",)),
        ("[data\nsize = 3\n", "config", ("not valid TOML",)),
        ("[train]\nlearning_rate = 0\n", "learning_rate", ("out of range",)),
        ("[train]\ncarry_state = 'maybe'\n", "carry_state", ("true or false",)),
    ],
)
def test_bad_toml_names_the_file(tmp_path, text, field, says):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    err = expect_error(field, load_toml, path, Config(), says=says)
    assert str(path) in str(err)


def test_toml_rules_checked_against_base_by_validate(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text("[data]\nrules = [[3, 0.9]]\n", encoding="utf-8")
    cfg = load_toml(path, Config())  # each pair is in range on its own
    assert cfg.data.rules == ((3, 0.9),)
    expect_error("rules", validate, cfg, says=("X[t-3]=1", "1.4"))


def test_missing_toml_file(tmp_path):
    path = tmp_path / "missing.toml"
    err = expect_error("config", load_toml, path, Config(), says=("cannot read",))
    assert str(path) in str(err)


def test_non_utf8_toml_file(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes(b'cell = "\xff"\n')
    err = expect_error("config", load_toml, path, Config())
    assert str(path) in str(err)
