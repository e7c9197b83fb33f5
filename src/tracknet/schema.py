"""One schema mechanism for every configuration of the package.

A configuration is a frozen dataclass deriving from :class:`Settings`; each field's type
and its :func:`setting` constraints are its schema, its default is written there and
nowhere else. Validation, conversion from and to plain dicts and JSON files, and the
one-line :class:`~tracknet.errors.ConfigError` messages are shared. See
``docs/architecture.md``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import numpy as np

from .errors import ConfigError

__all__ = ["Settings", "check_int", "check_number", "read_json_object", "setting"]

T = TypeVar("T")

#: A check on one value: ``None`` when it is fine, else what is wrong ("must be ...").
Check = Callable[[Any], str | None]


def setting(
    default: Any = dataclasses.MISSING,
    *,
    low: float | None = None,
    high: float | None = None,
    open_low: bool = False,
    choices: Sequence[Any] | None = None,
    check: Check | None = None,
    allow_inf: bool = False,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    """A :class:`Settings` field: its default and its constraints.

    ``low``/``high`` bound a number (``open_low``: strictly above ``low``), ``choices``
    lists the allowed values, ``check`` is a custom test returning what is wrong (or
    ``None``), ``allow_inf`` lets a float (or each float of a tuple) be infinite. A field
    typed ``X | None`` also takes ``None``.
    """
    meta = {
        "low": low,
        "high": high,
        "open_low": open_low,
        "choices": choices,
        "check": check,
        "allow_inf": allow_inf,
    }
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def check_int(label: str, name: str, value: Any, low: int | None = None) -> None:
    """One-line :class:`ConfigError` unless ``value`` is an integer (``>= low``)."""
    if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
        bound = f" >= {low}" if low is not None else ""
        raise ConfigError(f"{label} {name} must be an integer{bound}, got {value!r}")


def check_number(
    label: str, name: str, value: Any, low: float | None = None, *, open_low: bool = False
) -> None:
    """One-line :class:`ConfigError` unless ``value`` is a finite number above ``low``."""
    if not _is_number(value) or not math.isfinite(value):
        raise ConfigError(f"{label} {name} must be a finite number, got {value!r}")
    if low is not None and (value < low or (open_low and value == low)):
        raise ConfigError(
            f"{label} {name} must be {'>' if open_low else '>='} {low}, got {value!r}"
        )


def read_json_object(path: str | os.PathLike[str], what: str = "config") -> dict[str, Any]:
    """The JSON object of a settings file; a one-line :class:`ConfigError` otherwise."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f"line {exc.lineno}: {exc.msg}" if isinstance(exc, json.JSONDecodeError) else exc
        raise ConfigError(f"{path}: not valid JSON ({where})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a {what} must be a JSON object")
    return data


def _split_optional(hint: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; anything else -> ``(hint, False)``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        return (args[0] if len(args) == 1 else typing.Union[tuple(args)]), optional  # noqa: UP007
    return hint, False


def _settings_type(hint: Any) -> type[Settings] | None:
    return hint if isinstance(hint, type) and issubclass(hint, Settings) else None


class Settings:
    """Base of every configuration dataclass (use with ``@dataclass(frozen=True)``).

    ``label`` starts every error message (``"build beam_width must be ..."``). A subclass
    checks relations between fields in :meth:`validate`.
    """

    label: ClassVar[str] = "config"

    # ------------------------------------------------------------------ validation
    def __post_init__(self) -> None:
        hints = self._hints()
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = self._coerce(f.name, hints[f.name], getattr(self, f.name), f.metadata)
            object.__setattr__(self, f.name, value)
        self.validate()

    def validate(self) -> None:
        """Checks between fields; raise :class:`ConfigError` with one line."""

    def fail(self, name: str, what: str, value: Any) -> ConfigError:
        """The one-line error for field ``name`` (``what``: "must be ...")."""
        return ConfigError(f"{self.label} {name} {what}, got {value!r}", setting=name)

    @classmethod
    def _hints(cls) -> dict[str, Any]:
        cached = cls.__dict__.get("_schema_hints")
        if cached is None:
            cached = typing.get_type_hints(cls)
            cls._schema_hints = cached  # type: ignore[attr-defined]
        return cached

    def _coerce(self, name: str, hint: Any, value: Any, meta: Mapping[str, Any]) -> Any:
        base, optional = _split_optional(hint)
        if value is None:
            if optional or base is Any:
                return None
            raise self.fail(name, "must be set", value)
        value = self._check_type(name, base, value, finite=not meta.get("allow_inf", False))
        if meta:
            self._check_meta(name, value, meta)
        return value

    def _check_type(self, name: str, hint: Any, value: Any, finite: bool = True) -> Any:
        origin = typing.get_origin(hint)
        nested = _settings_type(hint)
        if nested is not None:
            if isinstance(value, nested):
                return value
            if isinstance(value, Mapping):
                return nested.from_dict(value)
            raise self.fail(name, f"must be a mapping of {nested.label} settings", value)
        # Numpy scalars (and other registered numbers) are accepted and become plain
        # Python values, so that records and JSON files hold the same either way.
        if hint is bool:
            if not isinstance(value, bool | np.bool_):
                raise self.fail(name, "must be true or false", value)
            return bool(value)
        elif hint is int:
            if not _is_integer(value):
                raise self.fail(name, "must be an integer", value)
            return int(value)
        elif hint is float:
            if not _is_number(value) or math.isnan(value) or (finite and math.isinf(value)):
                raise self.fail(name, "must be a finite number", value)
            return value if type(value) in (int, float) else float(value)
        elif hint is str:
            if not isinstance(value, str):
                raise self.fail(name, "must be a string", value)
        elif origin is tuple:
            args = typing.get_args(hint)
            if isinstance(value, np.ndarray) and value.ndim == 1:
                value = value.tolist()
            if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
                raise self.fail(name, "must be a list", value)
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(self._check_type(name, args[0], v, finite) for v in value)
            if args and len(args) != len(value):
                raise self.fail(name, f"must be a list of {len(args)} values", value)
            return tuple(
                self._check_type(name, a, v, finite) for a, v in zip(args, value, strict=False)
            )
        elif origin in (dict, Mapping) and not isinstance(value, Mapping):
            raise self.fail(name, "must be a mapping", value)
        return value

    def _check_meta(self, name: str, value: Any, meta: Mapping[str, Any]) -> None:
        choices = meta.get("choices")
        if choices is not None and value not in choices:
            raise self.fail(name, f"must be one of {list(choices)}", value)
        values = value if isinstance(value, tuple) else (value,)
        low, high, open_low = meta.get("low"), meta.get("high"), meta.get("open_low")
        for v in values:
            if not _is_number(v):
                continue
            if low is not None and (v < low or (open_low and v == low)):
                raise self.fail(name, f"must be {'>' if open_low else '>='} {low}", value)
            if high is not None and v > high:
                raise self.fail(name, f"must be <= {high}", value)
        check = meta.get("check")
        if check is not None:
            problem = check(value)
            if problem:
                raise self.fail(name, problem, value)

    # ------------------------------------------------------------------ dicts
    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready (nested settings as dicts, tuples as lists)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> Self:
        """A copy with some fields replaced; unknown keys are refused in one line."""
        if overrides is None:
            return self
        if not isinstance(overrides, Mapping):
            raise ConfigError(
                f"{self.label} settings must be a mapping, got {type(overrides).__name__}"
            )
        known = self.field_names()
        unknown = sorted(str(k) for k in set(overrides) - set(known))
        if unknown:
            raise ConfigError(f"unknown {self.label} option(s) {unknown}; known: {sorted(known)}")
        return dataclasses.replace(self, **dict(overrides))  # type: ignore[type-var]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None = None) -> Self:
        """The defaults with ``data`` applied (unknown keys and bad values refused)."""
        return cls().with_overrides(data or {})

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> Self:
        """The defaults with the values of a JSON file (one object); errors name the file."""
        data = read_json_object(path, f"{cls.label} config")
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None


def _plain(value: Any) -> Any:
    if isinstance(value, Settings):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value
