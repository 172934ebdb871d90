"""Validated experiment configurations: one pydantic model per experiment.

Every experiment module defines ``Config``, a subclass of :class:`ExperimentConfig`
with ``extra="forbid"``: an unknown key or a bad value is a :class:`ConfigError`
(a ``ValueError``) whose message names the key, the rule and the value. A config
file is YAML with the experiment's name and its fields, e.g.::

    experiment: phase_transition
    activations: [relu, tanh]
    dims: [20, 60]
    n: 400

Packaged presets live in ``ntphase/configs/<experiment>_<preset>.yaml``
(``preset`` is ``quick`` or ``full``) and are read with :func:`packaged_config`.
"""

from __future__ import annotations

import importlib.resources
import reprlib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from ntphase.activations import ACTIVATIONS
from ntphase.experiments.registry import REGISTRY, get_experiment

PRESETS = ("quick", "full")
#: Largest width ratio ``N d / n`` a config may ask for (``N`` beyond it is far past any
#: phase transition and would not fit in memory anyway).
MAX_WIDTH_RATIO = 1e6
#: Largest number of YAML nodes a config may expand to once its aliases are followed
#: (a "billion laughs" document of nested aliases is refused before it is built).
MAX_CONFIG_NODES = 100_000
#: Characters of a value shown in an error message (longer reprs are cut with "...").
MAX_REPR_CHARS = 80

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = MAX_REPR_CHARS
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6
_REPR.maxlevel = 3


def short_repr(value: Any) -> str:
    """``repr(value)`` bounded to about :data:`MAX_REPR_CHARS` characters, whatever its size
    (nested containers are elided with ``...`` without being walked in full)."""
    text = _REPR.repr(value)
    return text if len(text) <= 2 * MAX_REPR_CHARS else text[: 2 * MAX_REPR_CHARS - 3] + "..."


class _ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses duplicate keys and documents whose aliases
    expand past :data:`MAX_CONFIG_NODES` nodes (or refer to themselves)."""

    def construct_document(self, node: yaml.Node) -> Any:
        _expanded_size(node)
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    first = seen.setdefault(key, key_node.start_mark)
                except TypeError:  # unhashable key: the base class reports it
                    continue
                if first is not key_node.start_mark:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"found duplicate key {short_repr(key)} (first at line {first.line + 1}); "
                        f"give each key once", key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)


def _expanded_size(root: yaml.Node) -> int:
    """Nodes of the document with every alias followed, counted without expanding it
    (a node reached twice is counted from a cache); raise past ``MAX_CONFIG_NODES``."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        ident = id(node)
        if ident in sizes:
            return sizes[ident]
        if ident in active:
            raise yaml.YAMLError("a config may not contain a recursive alias (a value that contains itself)")
        active.add(ident)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(ident)
        if total > MAX_CONFIG_NODES:
            raise yaml.YAMLError(
                f"the document expands to more than {MAX_CONFIG_NODES} values once its aliases "
                f"(*name) are followed; a config needs far fewer: write the values out"
            )
        sizes[ident] = total
        return total

    return size(root)


def _parse_yaml(text: str, name: str | None = None) -> Any:
    """Parse one YAML document with :class:`_ConfigLoader` (safe, bounded, no duplicate keys);
    ``name`` is the file name shown in error marks."""
    loader = _ConfigLoader(text)
    if name is not None:
        loader.name = name
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


class ConfigError(ValueError):
    """A configuration that does not validate; the message names every bad key."""


class ExperimentConfig(BaseModel):
    """Fields shared by every experiment.

    Attributes
    ----------
    experiment : str
        Registered experiment name (``ntphase.experiments.REGISTRY``).
    repeats : int
        Independent repetitions (seeds) of every grid point, >= 1. Each repetition is
        its own task; its seed is derived from the task's parameters by the sweep.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)

    experiment: str
    repeats: int = Field(3, ge=1, le=10_000, description="independent seeds per grid point")

    @field_validator("experiment")
    @classmethod
    def _known_experiment(cls, value: str) -> str:
        if value not in REGISTRY:
            raise ValueError(f"must be one of {sorted(REGISTRY)}, got {value!r}")
        return value

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (lists, floats, strings) suitable for YAML."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        """The config as YAML text that :func:`load_config` reads back unchanged."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _format_errors(name: str, exc: ValidationError) -> str:
    lines = [f"invalid {name} config ({exc.error_count()} error(s)):"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "<root>"
        if err["type"] == "extra_forbidden":
            lines.append(f"  unknown key {short_repr(key)} (value {short_repr(err.get('input'))}); "
                         f"remove it or fix its spelling")
        elif err["type"] == "missing":
            lines.append(f"  missing required key {key!r}")
        else:
            msg = err["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            lines.append(f"  key {short_repr(key)}: {msg}; got {short_repr(err.get('input'))}")
    return "\n".join(lines)


def validate_config(config_class: type[ExperimentConfig], data: Mapping[str, Any]) -> ExperimentConfig:
    """Validate ``data`` with ``config_class``; errors become :class:`ConfigError`.

    The message lists each offending key: unknown keys (with the allowed ones),
    missing keys, and values that break a rule (with the rule and the value).
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"a config must be a mapping of keys to values, got {type(data).__name__}")
    try:
        return config_class.model_validate(dict(data))
    except ValidationError as exc:
        name = data.get("experiment", config_class.__name__)
        message = _format_errors(name if isinstance(name, str) else short_repr(name), exc)
        if any(e["type"] == "extra_forbidden" for e in exc.errors()):
            allowed = ", ".join(sorted(config_class.model_fields))
            message += f"\n  allowed keys: {allowed}"
        raise ConfigError(message) from None


def load_config(source: str | Path | Mapping[str, Any]) -> ExperimentConfig:
    """Read and validate a config from a YAML file path or a mapping.

    The mapping (or YAML document) must name its experiment with ``experiment:``;
    the matching experiment module's ``Config`` validates the rest.

    Raises
    ------
    ConfigError
        Unknown experiment, unknown key, missing key or bad value (named in the message).
    FileNotFoundError
        ``source`` is a path that does not exist.
    """
    if isinstance(source, Mapping):
        data = dict(source)
        origin = "config"
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"config file {str(path)!r} does not exist")
        try:
            data = _parse_yaml(path.read_bytes().decode("utf-8"), str(path))
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"config file {str(path)!r} is not UTF-8 text (byte {exc.object[exc.start]:#04x} "
                f"at offset {exc.start}); save it as UTF-8"
            ) from None
        except RecursionError:
            raise ConfigError(f"config file {str(path)!r} is nested too deeply") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {str(path)!r} is not valid YAML: {str(exc)[:500]}") from None
        origin = f"config file {str(path)!r}"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin} must be a mapping of keys to values, got {type(data).__name__}")
    name = data.get("experiment")
    if name is None:
        raise ConfigError(
            f"{origin} has no 'experiment' key; add e.g. 'experiment: phase_transition' "
            f"(one of {sorted(REGISTRY)})"
        )
    if not isinstance(name, str) or name not in REGISTRY:
        raise ConfigError(f"key 'experiment': must be one of {sorted(REGISTRY)}, got {short_repr(name)}")
    module = get_experiment(name)
    return validate_config(module.Config, data)


def packaged_config(name: str, preset: str = "quick") -> ExperimentConfig:
    """The packaged ``quick`` or ``full`` config of experiment ``name``.

    Falls back to the experiment's ``Config()`` defaults when no YAML preset is
    shipped for it.
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}")
    if name not in REGISTRY:
        raise ValueError(f"name must be one of {sorted(REGISTRY)}, got {name!r}")
    resource = importlib.resources.files("ntphase").joinpath("configs").joinpath(f"{name}_{preset}.yaml")
    if resource.is_file():
        data = _parse_yaml(resource.read_text(encoding="utf-8"))
        return load_config(data)
    module = get_experiment(name)
    return validate_config(module.Config, {"experiment": name})


# --- shared field validators -------------------------------------------------


def check_activation_name(value: str) -> str:
    """``value`` must name a registered activation (``ntphase.activations.ACTIVATIONS``)."""
    if not isinstance(value, str):
        raise ValueError(f"must be an activation name (string), got {type(value).__name__}")
    names = sorted(ACTIVATIONS)
    if value not in names:
        raise ValueError(f"must be one of {names}")
    return value


def check_increasing(values: list, positive: bool = True) -> list:
    """A non-empty, strictly increasing list (of positive numbers if ``positive``)."""
    if len(values) == 0:
        raise ValueError("must be a non-empty list")
    if positive and any(v <= 0 for v in values):
        raise ValueError("every entry must be > 0")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError("must be strictly increasing (sorted, no duplicates)")
    return values


def check_width_ratios(values: list[float]) -> list[float]:
    """Width ratios ``N d / n``: strictly increasing, each in ``(0, MAX_WIDTH_RATIO]``."""
    check_increasing(values)
    if any(v > MAX_WIDTH_RATIO for v in values):
        raise ValueError(f"every ratio N d / n must be <= MAX_WIDTH_RATIO = {MAX_WIDTH_RATIO:g}")
    return values


def check_unique(values: list) -> list:
    """A non-empty list without duplicates."""
    if len(values) == 0:
        raise ValueError("must be a non-empty list")
    if len(set(values)) != len(values):
        raise ValueError("must not contain duplicates")
    return values


def check_activation_names(values: list[str]) -> list[str]:
    """A non-empty list of distinct registered activation names."""
    return check_unique([check_activation_name(v) for v in values])


def check_at_least(values: list[int], minimum: int, name: str) -> list[int]:
    """Every entry ``>= minimum`` (the message calls an entry ``name``, e.g. ``"d"``)."""
    if any(v < minimum for v in values):
        raise ValueError(f"every {name} must be an integer >= {minimum}")
    return values


def check_dims(values: list[int]) -> list[int]:
    """Input dimensions: a non-empty list of distinct integers ``d >= 2``."""
    return check_unique(check_at_least(values, 2, "d"))


def check_sample_sizes(values: list[int]) -> list[int]:
    """Sample sizes: a non-empty, strictly increasing list of integers ``n >= 2``."""
    return check_increasing(check_at_least(values, 2, "n"))


def check_ridges(values: list[float]) -> list[float]:
    """Ridges: a non-empty, strictly increasing list of finite numbers ``lambda >= 0``."""
    if any(not np.isfinite(v) or v < 0 for v in values):
        raise ValueError("every ridge must be a finite number >= 0")
    return check_increasing(values, positive=False)


def check_target(value: dict[int, float]) -> dict[int, float]:
    """Target coefficients: non-empty, degrees >= 0, finite coefficients, some nonzero."""
    if not value:
        raise ValueError("must map at least one degree k >= 0 to a coefficient c_k")
    if any(k < 0 for k in value):
        raise ValueError("degrees must be integers >= 0")
    if any(not np.isfinite(c) for c in value.values()):
        raise ValueError("coefficients must be finite")
    if all(c == 0 for c in value.values()):
        raise ValueError("at least one coefficient must be nonzero")
    return dict(sorted(value.items()))


# --- shared field types ------------------------------------------------------
# Annotated types carry the shared validators, so every experiment's Config checks
# these fields the same way (same rule, same message) without repeating a
# ``field_validator`` per module.

#: One registered activation name (``check_activation_name``).
ActivationName = Annotated[str, AfterValidator(check_activation_name)]
#: Distinct registered activation names, at least one (``check_activation_names``).
ActivationNames = Annotated[list[str], AfterValidator(check_activation_names)]
#: First-layer weight distribution (``ntphase.data.sample_weights``).
WeightDistribution = Literal["gaussian", "sphere"]
#: A non-empty, strictly increasing list of positive numbers (``check_increasing``).
IncreasingPositive = Annotated[list[float], AfterValidator(check_increasing)]
#: Width ratios ``N d / n``, increasing, at most ``MAX_WIDTH_RATIO`` (``check_width_ratios``).
WidthRatios = Annotated[list[float], AfterValidator(check_width_ratios)]
#: Degree ``k`` -> coefficient ``c_k`` of a harmonic target (``check_target``).
TargetCoefficients = Annotated[dict[int, float], AfterValidator(check_target)]
#: Input dimensions ``d`` (``check_dims``).
Dimensions = Annotated[list[int], AfterValidator(check_dims)]
#: Sample sizes ``n`` (``check_sample_sizes``).
SampleSizes = Annotated[list[int], AfterValidator(check_sample_sizes)]
#: Ridge values ``lambda`` (``check_ridges``).
Ridges = Annotated[list[float], AfterValidator(check_ridges)]
