"""Configs as text: TOML files, the one-line config string, and a field's shown value."""

from __future__ import annotations

import dataclasses
import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from .fields import FIELDS, Config, ConfigError, format_rules, parse_value

MAX_TOML_BYTES = 1_000_000  # a config is a few hundred bytes; anything past this is no config


def from_mapping(data: dict[str, Any], base: Config) -> Config:
    """Apply a TOML-shaped mapping ({data: {...}, model: {...}, train: {...}} or flat)."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key in ("data", "model", "train"):
            for name, v in value.items():
                if name not in FIELDS or FIELDS[name].section != key:
                    raise ConfigError(name, f"unknown field in [{key}]")
                values[name] = parse_value(name, v)
        elif key in FIELDS:
            values[key] = parse_value(key, value)
        elif key in ("data", "model", "train"):
            raise ConfigError(key, f"must be a table of fields ([{key}] and its lines)")
        else:
            raise ConfigError(key, "unknown field" + (
                " (a section: the sections are [data], [model] and [train])"
                if isinstance(value, dict) else ""))
    return base.with_values(**values)


def load_toml(path: str | Path, base: Config) -> Config:
    """Read a config.toml; any problem is a ConfigError naming the file. Only a regular
    file of at most MAX_TOML_BYTES is read (a FIFO or /dev/zero is refused, not waited on or
    read without end), and one that holds no setting is refused as empty."""
    p = Path(path)
    try:
        raw = _read_capped(p, MAX_TOML_BYTES)
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as err:
        raise ConfigError("config", f"cannot read {p}: {err.strerror or err}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError("config", f"{p} is not valid TOML: {_one_line(err)}") from None
    if not data:  # read as the defaults, silently, it would train what nobody asked for
        raise ConfigError("config", f"{p} is empty: it sets no field")
    try:
        return from_mapping(data, base)
    except ConfigError as err:
        raise ConfigError(err.field, f"{str(err).split(': ', 1)[1]} (in {p})") from None


def _read_capped(p: Path, most: int) -> bytes:
    """The bytes of a regular file of at most `most` bytes; OSError (with a strerror that
    says what is wrong) otherwise. Opened without blocking, so a FIFO never hangs here."""
    fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file")
        with os.fdopen(fd, "rb") as f:
            fd = -1  # the file object owns it now
            raw = f.read(most + 1)
    finally:
        if fd >= 0:
            os.close(fd)
    if len(raw) > most:
        raise OSError(0, f"larger than {most // 1_000_000} MB: not a config file")
    return raw


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


def to_toml(config: Config) -> str:
    lines = []
    for section in ("data", "model", "train"):
        lines.append(f"[{section}]")
        for f in dataclasses.fields(getattr(config, section)):
            v = config.get(f.name)
            if f.name == "rules":
                text = "[" + ", ".join(f"[{lag}, {d!r}]" for lag, d in v) + "]"
            elif isinstance(v, bool):
                text = "true" if v else "false"
            elif isinstance(v, str):
                text = f'"{v}"'
            else:
                text = repr(v)
            lines.append(f"{f.name} = {text}")
        lines.append("")
    return "\n".join(lines)


def format_value(name: str, value: Any) -> str:
    """The text a form field shows for a value."""
    if name == "rules":
        return format_rules(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def config_string(config: Config) -> str:
    """One line that reproduces a run, seed included: field=value joined by '&'.
    Floats are written with repr, so they read back bit for bit. The same config trains the
    same run; bit for bit on a GPU only with `deterministic=true`, since cuDNN kernels and
    the GPU's reductions may otherwise add in a different order from run to run."""
    parts = []
    for name in FIELDS:
        v = config.get(name)
        if name == "rules":
            text = ",".join(f"{lag}:{d!r}" for lag, d in v)
        elif isinstance(v, float):
            text = repr(v)
        else:
            text = format_value(name, v)
        parts.append(f"{name}={text}")
    return "&".join(parts)


def parse_config_string(text: str, base: Config | None = None) -> Config:
    """Inverse of config_string; fields it leaves out keep `base`'s values."""
    values = {}
    for part in filter(None, text.strip().split("&")):
        name, sep, value = part.partition("=")
        if not sep:
            raise ConfigError("config_string", f"{part!r} is not field=value")
        values[name] = parse_value(name, value)
    return (base or Config()).with_values(**values)
