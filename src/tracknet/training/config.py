"""The training configuration: a typed schema, composition with Hydra, one-line errors.

:func:`hydra_schema` turns :class:`~tracknet.training.settings.TrackNetSettings` into the
structured config the YAML groups under ``tracknet/configs/`` merge into;
:func:`compose_config` composes with Hydra's compose API (no change of working
directory) and turns every Hydra / OmegaConf error into a one-line ``ConfigError``.

See docs/architecture.md.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ..errors import ConfigError
from ..schema import Settings
from .settings import TrackNetSettings

__all__ = [
    "CONFIG_MODULE",
    "CONFIG_NAME",
    "SCHEMA_NAME",
    "compose_config",
    "config_groups",
    "hydra_schema",
    "register_schema",
    "to_container",
]

#: Python package holding the YAML files.
CONFIG_MODULE = "tracknet.configs"
#: The primary config file (without ``.yaml``).
CONFIG_NAME = "config"
#: Name of the schema in Hydra's ConfigStore (first entry of the defaults list).
SCHEMA_NAME = "tracknet_schema"


def _schema_type(hint: Any) -> Any:
    """The OmegaConf type of a settings field (tuples as lists, nested settings generated)."""
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0]
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and issubclass(hint, Settings):
        out: Any = hydra_schema(hint)
    elif origin is tuple:
        out = list[_schema_type(typing.get_args(hint)[0])]  # type: ignore[misc]
    elif origin in (dict, Mapping):
        out = dict[str, Any]
    else:
        out = hint
    return typing.Optional[out] if optional else out  # noqa: UP045


def _schema_field(value: Any) -> Any:
    if isinstance(value, Settings):
        return field(default_factory=hydra_schema(type(value)))
    if isinstance(value, tuple | list | dict):
        plain = _plain(value)
        return field(default_factory=lambda: copy.deepcopy(plain))
    return field(default=value)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


_SCHEMAS: dict[type[Settings], type] = {}


def hydra_schema(settings: type[Settings] = TrackNetSettings) -> type:
    """The Hydra structured config of a settings class: its keys, types and defaults.

    Generated, so the keys and defaults exist only in :mod:`tracknet.training.settings`;
    the node is named by the class's ``schema_name`` (Hydra's messages name it).
    """
    if settings in _SCHEMAS:
        return _SCHEMAS[settings]
    hints = typing.get_type_hints(settings)
    defaults = settings()
    specs = [
        (f.name, _schema_type(hints[f.name]), _schema_field(getattr(defaults, f.name)))
        for f in dataclasses.fields(settings)  # type: ignore[arg-type]
    ]
    name = getattr(settings, "schema_name", settings.__name__)
    schema = _SCHEMAS[settings] = dataclasses.make_dataclass(name, specs)
    return schema


def register_schema() -> None:
    """Store :class:`TrackNetConfig` in Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name=SCHEMA_NAME, node=hydra_schema(TrackNetSettings))


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return " ".join(lines)


def _describe(exc: BaseException) -> str:
    """One line from a Hydra / OmegaConf exception and its causes (most specific last)."""
    from hydra.errors import MissingConfigException

    if isinstance(exc, MissingConfigException):
        message = str(exc).strip().splitlines()[0]
        options = getattr(exc, "options", None)
        if options:
            message += f" (available: {', '.join(sorted(options))})"
        return message
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        # The first line is the reason; OmegaConf adds "full_key: ..." / "object_type=..."
        # lines and a templated copy of the message ("$VALUE") that say nothing more.
        lines = [line.strip() for line in str(current).strip().splitlines() if line.strip()]
        if lines and "$VALUE" not in lines[0] and lines[0] != "None":
            piece = lines[0].rstrip(".")
            if not any(piece in p for p in parts):
                parts.append(piece)
        current = current.__cause__ or current.__context__
    return ": ".join(parts) if parts else type(exc).__name__


def compose_config(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """The composed, type-checked configuration for ``overrides`` (``key=value`` strings).

    Raises :class:`ConfigError` with one line for an unknown key, a value of the wrong
    type, an unknown group option or a malformed override.
    """
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    overrides = [str(o) for o in overrides]
    register_schema()
    # A Hydra instance left behind (e.g. by a failed earlier call) would block initialise.
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            cfg = compose(config_name=CONFIG_NAME, overrides=overrides)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(f"bad configuration: {_one_line(_describe(exc))}") from None
    except Exception as exc:
        raise ConfigError(
            f"bad configuration: cannot apply overrides {overrides}: "
            f"{type(exc).__name__}: {_one_line(str(exc))}"
        ) from None
    return cfg


def config_groups() -> dict[str, list[str]]:
    """Every config group shipped in the package and its options (file names)."""
    from importlib import resources

    root = resources.files(CONFIG_MODULE)
    groups: dict[str, list[str]] = {}
    for entry in root.iterdir():
        if entry.is_dir() and not entry.name.startswith(("_", ".")):
            options = sorted(
                p.name[: -len(".yaml")] for p in entry.iterdir() if p.name.endswith(".yaml")
            )
            if options:
                groups[entry.name] = options
    return dict(sorted(groups.items()))


def to_container(cfg: DictConfig) -> dict[str, Any]:
    """The configuration as plain dicts, lists and scalars (interpolations resolved)."""
    try:
        container = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    except Exception as exc:  # an interpolation that does not resolve
        raise ConfigError(f"bad configuration: {_one_line(_describe(exc))}") from None
    assert isinstance(container, dict)
    return container  # type: ignore[return-value]
