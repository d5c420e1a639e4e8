"""Typed, validated settings records (specs) shared by blocks and models.

A spec is a frozen dataclass whose fields are declared with :func:`param`. The field's metadata carries what a user
interface needs to draw a widget and what validation needs to reject a value: a range (``lo``, ``hi``, ``step``),
``choices``, a ``help`` sentence and a short ``label``. :meth:`Spec.__post_init__` checks every field against its
metadata, then calls :meth:`Spec.check` for the constraints that tie fields together. Every failure is a
``ValueError`` whose message names the field, the value and the rule, so a student can act on it.

Specs are built from Python values (:func:`make_spec`) or from strings (:func:`parse_fields`, used by the CLI's
``--set key=value`` and by URLs). Unknown keys are errors that name the key and list the valid ones.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}


def param(
    default: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    step: float | None = None,
    choices: tuple | None = None,
    help: str = "",
    label: str | None = None,
    advanced: bool = False,
) -> Any:
    """Declare a spec field with its range and help text.

    Args:
        default: the default value (its Python type is the field's type).
        lo, hi: inclusive bounds for numbers.
        step: widget step for numbers.
        choices: the allowed values for strings (and optionally ints).
        help: one sentence shown beside the widget.
        label: short widget label (defaults to the field name with spaces).
        advanced: drawn in a collapsed "more settings" group by the UI.
    """
    meta = {"lo": lo, "hi": hi, "step": step, "choices": choices, "help": help, "label": label, "advanced": advanced}
    return field(default=default, metadata=meta)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@functools.cache
def _rules(cls: type) -> tuple[tuple[str, type | None, Any, Any, typing.Mapping], ...]:
    """Per field of a spec class: (name, int or float where the inline check of ``Spec.__post_init__`` applies,
    else None; lo, hi, the metadata)."""
    hints = _hints(cls)
    out = []
    for f in fields(cls):
        t = hints[f.name]
        inline = t if t in (int, float) and f.metadata.get("choices") is None else None
        out.append((f.name, inline, f.metadata.get("lo"), f.metadata.get("hi"), f.metadata))
    return tuple(out)


class SpecError(ValueError):
    """A setting that cannot be used, with the field it concerns (``None`` when no single field is to blame).

    ``str(error)`` is the message a student can act on; pages and the CLI show it as it is. Callers decide by the
    type and ``field``, never by parsing the text.
    """

    def __init__(self, message: str, field: str | None = None, value: Any = None):
        super().__init__(message)
        self.message, self.field, self.value = message, field, value


class OutputTooSmall(SpecError):
    """The input is too small for a layer's kernel and stride (an output side would be below 1)."""


def field_label(cls: type, name: str) -> str:
    """The widget label of a field (its ``label`` metadata, else the name with spaces)."""
    for f in fields(cls):
        if f.name == name:
            return f.metadata.get("label") or name.replace("_", " ")
    return name


@functools.cache
def _label_pattern(cls: type) -> tuple[re.Pattern | None, dict[str, str]]:
    """A regex matching the field names whose label differs from the name, and name -> 'label (name)'."""
    named = {}
    for f in fields(cls):
        label = f.metadata.get("label")
        if label and label != f.name and label != f.name.replace("_", " "):
            # a label that shows the key already ('width multiplier wm') is not followed by it again
            named[f.name] = label if re.search(rf"(?<!\w){re.escape(f.name)}(?!\w)", label) else f"{label} ({f.name})"
    if not named:
        return None, named
    alternation = "|".join(re.escape(n) for n in sorted(named, key=len, reverse=True))
    return re.compile(rf"(?<![\w.(])({alternation})(?![\w)])"), named


def name_fields(cls: type, message: str) -> str:
    """The message with each field name written as 'label (name)', so a page user (who sees the label) and a CLI
    user (who types the name) can both act on it: 'C_out (out_channels)=128 must equal C_in (in_channels)=32'."""
    pattern, named = _label_pattern(cls)
    if pattern is None:
        return message
    return pattern.sub(lambda m: named[m.group(1)], message)


def field_type(cls: type, name: str) -> type:
    """The Python type of a spec field (int, float, bool or str)."""
    return _hints(cls)[name]


@dataclass(frozen=True)
class Spec:
    """Base of all block and model specs: range/choice validation from field metadata, then :meth:`check`."""

    def __post_init__(self) -> None:
        cls = type(self)
        for name, t, lo, hi, meta in _rules(cls):
            value = getattr(self, name)
            # the common case, checked inline (the analytic path builds thousands of specs): a number of the field's
            # exact type, finite, inside its range, on a field without choices; anything else goes the long way
            if (
                t is not None
                and type(value) is t
                and (lo is None or lo <= value)
                and (hi is None or value <= hi)
                and (t is int or math.isfinite(value))
            ):
                continue
            try:
                value = _coerce_python(name, value, _hints(cls)[name])
                _check_range(name, value, meta)
            except ValueError as e:
                raise SpecError(name_fields(cls, str(e)), name, value) from None
            object.__setattr__(self, name, value)
        try:
            self.check()
        except SpecError as e:  # the message as the user reads it: each field as 'label (name)'
            raise type(e)(name_fields(cls, e.message), e.field, e.value) from None
        except ValueError as e:  # a check that did not name its field: the message stands alone
            raise SpecError(name_fields(cls, str(e))) from None

    def check(self) -> None:
        """Constraints between fields: raise :class:`SpecError` with the message, the field to blame and its value."""

    def replace(self, **changes: Any) -> Spec:
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise _unknown(type(self), sorted(unknown)[0])
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Field name -> value."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def changed_fields(self) -> dict[str, Any]:
        """Only the fields that differ from their defaults."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.default is not MISSING and getattr(self, f.name) != f.default
        }


def _coerce_python(name: str, value: Any, t: type) -> Any:
    """Accept ints for float fields and exact-integer floats for int fields; reject other types clearly."""
    if t is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{name}={value!r} must be true or false")
    if t is int:
        if isinstance(value, bool):
            raise ValueError(f"{name}={value!r} must be an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"{name}={value!r} must be an integer")
    if t is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name}={value!r} must be a number")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{name}={value!r} must be a finite number")
        return value
    if t is str:
        if not isinstance(value, str):
            raise ValueError(f"{name}={value!r} must be text")
        return value
    return value


def _check_range(name: str, value: Any, meta: typing.Mapping) -> None:
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ValueError(f"{name}={value!r} is not allowed: choose one of {', '.join(map(str, choices))}")
    lo, hi = meta.get("lo"), meta.get("hi")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if lo is not None and value < lo:
        raise ValueError(f"{name}={value} is below the minimum {lo}")
    if hi is not None and value > hi:
        raise ValueError(f"{name}={value} is above the maximum {hi}")


def _unknown_message(cls: type, key: str) -> str:
    names = ", ".join(f.name for f in fields(cls))
    return f"unknown setting '{key}' (valid settings: {names})"


def _unknown(cls: type, key: str) -> SpecError:
    return SpecError(_unknown_message(cls, key), key)


def field_names(cls: type) -> list[str]:
    """The field names of a spec class, in order."""
    return [f.name for f in fields(cls)]


def make_spec(cls: type[Spec], **values: Any) -> Spec:
    """Build a spec, rejecting unknown keys with a message that names the key."""
    valid = set(field_names(cls))
    for key in values:
        if key not in valid:
            raise _unknown(cls, key)
    return cls(**values)


def parse_bool(text: str) -> bool:
    """'1', 'true', 'yes', 'on' ... -> True; '0', 'false', 'no', 'off' ... -> False; anything else ValueError."""
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"'{text[:40]}' is not true or false")


def parse_value(cls: type, name: str, text: str) -> Any:
    """Parse one field's value from text (CLI ``--set``, URLs) by the field's type."""
    if name not in field_names(cls):
        raise _unknown(cls, name)
    t = field_type(cls, name)
    s = text.strip()
    if t is bool:
        try:
            return parse_bool(s)
        except ValueError:
            raise ValueError(f"{name}: '{text}' is not true or false") from None
    if t is int:
        try:
            return int(s)
        except ValueError:
            try:
                f = float(s)
            except ValueError:
                raise ValueError(f"{name}: '{text}' is not an integer") from None
            if f.is_integer():
                return int(f)
            raise ValueError(f"{name}: '{text}' is not an integer") from None
    if t is float:
        try:
            v = float(s)
        except ValueError:
            raise ValueError(f"{name}: '{text}' is not a number") from None
        if not math.isfinite(v):
            raise ValueError(f"{name}: '{text}' is not a finite number")
        return v
    return s


def parse_fields(cls: type, items: typing.Mapping[str, str]) -> dict[str, Any]:
    """Parse a mapping of field name -> text into typed values (strict: any problem raises ValueError)."""
    return {k: parse_value(cls, k, v) for k, v in items.items()}


def clamp_fields(cls: type, items: typing.Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Lenient parse for links: drop unknown or malformed values, clamp numbers into range.

    Returns:
        (typed values that passed, one warning sentence per value that was dropped or changed).
    """
    out: dict[str, Any] = {}
    warnings: list[str] = []
    by_name = {f.name: f for f in fields(cls)}
    for key, text in items.items():
        if key not in by_name:
            warnings.append(f"ignored unknown setting '{key}' in the link")
            continue
        try:
            v = parse_value(cls, key, text)
        except ValueError as e:
            warnings.append(f"ignored {e} (from the link)")
            continue
        meta = by_name[key].metadata
        choices = meta.get("choices")
        if choices is not None and v not in choices:
            warnings.append(f"ignored {key}='{text}' from the link: choose one of {', '.join(map(str, choices))}")
            continue
        lo, hi = meta.get("lo"), meta.get("hi")
        if not isinstance(v, bool) and isinstance(v, int | float):
            if lo is not None and v < lo:
                warnings.append(f"{key}={v} from the link is below the minimum; set to {lo}")
                v = type(v)(lo)
            elif hi is not None and v > hi:
                warnings.append(f"{key}={v} from the link is above the maximum; set to {hi}")
                v = type(v)(hi)
        out[key] = v
    return out, warnings


def encode_fields(values: typing.Mapping[str, Any]) -> str:
    """Compact string form for URLs: 'key:value,key:value' (bools as 1/0)."""
    parts = []
    for k, v in values.items():
        if isinstance(v, bool):
            v = int(v)
        elif isinstance(v, float):
            v = repr(v)
        parts.append(f"{k}:{v}")
    return ",".join(parts)


def decode_fields(text: str) -> tuple[dict[str, str], list[str]]:
    """Inverse of :func:`encode_fields` into raw strings; malformed pieces become warnings."""
    out: dict[str, str] = {}
    warnings: list[str] = []
    if not text:
        return out, warnings
    for piece in text.split(","):
        if not piece:
            continue
        key, sep, value = piece.partition(":")
        if not sep or not key:
            warnings.append(f"ignored malformed setting '{piece[:40]}' in the link")
            continue
        out[key.strip()] = value
    return out, warnings
