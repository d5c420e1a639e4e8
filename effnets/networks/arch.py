"""A design as text: the compact architecture string the page link carries, and the JSON spec the CLI reads.

The string, e.g. EfficientNet-B0's::

    r224|conv(c:32,s:2,activation:silu)|mbconv(c:16,e:1)|mbconv*2(c:24,s:2)|...|conv(c:1280,k:1,activation:silu)/classifier(dropout:0.2)

``r224`` is the input resolution (``r224c1``: one input channel); ``|`` separates stages and ``/`` the rows of a
stage; a row is a block or layer type (:data:`effnets.networks.design.LAYERS`, the catalog's blocks), ``*N`` its
repeats, and in parentheses its settings as ``key:value`` (short names: :data:`~effnets.networks.design.ALIAS_OF`;
settings at their defaults are left out; the input channels are wired, never written).

Both forms are parsed as data, by a small hand-written parser: nothing is evaluated. Unknown types and keys are
errors naming them (with the nearest valid names); strings over :data:`MAX_CHARS` are refused before parsing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from effnets.blocks import BLOCKS
from effnets.networks.design import ALIAS_OF, LAYERS, WIRED, Design, Row, check_limits, coerce, unknown_type
from effnets.spec import SpecError, field_names, parse_value

MAX_CHARS = 64 * 1024
"""Architecture strings (and JSON specs) longer than this are refused unread."""

KEY_OF = {v: k for k, v in ALIAS_OF.items()}
_ROW = re.compile(r"^([a-z][a-z0-9_]*)(?:\*(\d{1,6}))?(?:\((.*)\))?$")
_VALUE = re.compile(r"^[A-Za-z0-9_.+\-]{1,40}$")
_HEADER = re.compile(r"^r(\d{1,5})(?:c(\d{1,3}))?$")
FORMAT = "effnets-design"
VERSION = 1


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return f"{int(v)}" if v.is_integer() and abs(v) < 1e15 else repr(v)
    return str(v)


def encode(design: Design) -> str:
    """The architecture string of a design (the inverse of :func:`decode`)."""
    head = f"r{design.resolution}" + (f"c{design.in_channels}" if design.in_channels != 3 else "")
    stages = []
    for st in design.stages:
        rows = []
        for r in st:
            fields = ",".join(f"{ALIAS_OF.get(k, k)}:{_text(v)}" for k, v in r.fields)
            rows.append(r.type + (f"*{r.repeats}" if r.repeats != 1 else "") + (f"({fields})" if fields else ""))
        stages.append("/".join(rows))
    return "|".join([head, *stages])


def _valid_keys(kind: str) -> list[str]:
    import dataclasses

    names = field_names(BLOCKS[kind].spec) if kind in BLOCKS else [f.name for f in dataclasses.fields(LAYERS[kind])]
    return [n for n in names if n not in WIRED and n != "label"]


def _unknown_key(kind: str, key: str) -> SpecError:
    import difflib

    valid = _valid_keys(kind)
    near = difflib.get_close_matches(key, valid + list(KEY_OF), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(KEY_OF.get(n, n) for n in near)}? " if near else ""
    return SpecError(f"'{key[:40]}' is not a setting of {kind}; {hint}its settings: {', '.join(valid)}", key)


def _typed(kind: str, key: str, text: str) -> Any:
    """One setting's value from text, typed by the block's spec (a plain layer's text is typed when it is built)."""
    if not _VALUE.match(text):
        raise SpecError(f"{kind}: the value of {key} ('{text[:40]}') may only hold letters, digits and . _ + -", key)
    if kind in BLOCKS:
        try:
            return parse_value(BLOCKS[kind].spec, key, text)
        except ValueError as e:
            raise SpecError(f"{kind}: {e}", key) from None
    try:
        return coerce(LAYERS[kind], key, text)
    except ValueError as e:
        raise SpecError(f"{kind}: {e}", key) from None


def _row(piece: str, where: str) -> Row:
    m = _ROW.match(piece)
    if not m:
        raise SpecError(f"{where}: '{piece[:60]}' is not a row (write type, type*N or type(key:value,...))")
    kind, reps, body = m.group(1), m.group(2), m.group(3)
    if kind not in BLOCKS and kind not in LAYERS:
        raise SpecError(f"{where}: {unknown_type(kind)}", "type", kind)
    valid = _valid_keys(kind)
    fields: dict[str, Any] = {}
    for item in body.split(",") if body else []:
        if not item:
            raise SpecError(f"{where}: an empty setting in '{piece[:60]}'")
        key, sep, value = item.partition(":")
        key = KEY_OF.get(key.strip(), key.strip())
        if not sep:
            raise SpecError(f"{where}: '{item[:40]}' needs a value (write key:value)", key)
        if key not in valid:
            raise _unknown_key(kind, key)
        if key in fields:
            raise SpecError(f"{where}: {key} is given twice", key)
        fields[key] = _typed(kind, key, value.strip())
    return Row(kind, tuple(fields.items()), int(reps) if reps else 1)


def decode(text: str) -> Design:
    """A design from its architecture string. Raises SpecError naming what is wrong and where."""
    if not isinstance(text, str):
        raise SpecError("an architecture string must be text")
    if len(text) > MAX_CHARS:
        raise SpecError(f"the architecture string has {len(text):,} characters; at most {MAX_CHARS:,} are read")
    text = "".join(text.split())  # whitespace and line breaks are for the eye
    if not text:
        raise SpecError("the architecture string is empty")
    head, *stages = text.split("|")
    m = _HEADER.match(head)
    if not m:
        raise SpecError(f"the architecture string must start with the resolution, like 'r224' (got '{head[:20]}')")
    if not stages:
        raise SpecError("the architecture string has no stages after the resolution (add '|conv(c:32,s:2)' ...)")
    out = []
    for i, st in enumerate(stages, 1):
        if not st:
            raise SpecError(f"stage {i} is empty (two '|' in a row?)")
        out.append(tuple(_row(p, f"stage {i}, row {j}") for j, p in enumerate(st.split("/"), 1)))
    design = Design(tuple(out), resolution=int(m.group(1)), in_channels=int(m.group(2) or 3))
    check_limits(design)
    return design


# ----- JSON --------------------------------------------------------------------------------------------------------


def to_json(design: Design, indent: int | None = 1) -> str:
    """The design as the JSON spec the CLI reads (``effnets cost arch FILE.json``)."""
    return json.dumps(
        {
            "format": FORMAT,
            "version": VERSION,
            "resolution": design.resolution,
            "in_channels": design.in_channels,
            "stages": [
                [{"type": r.type, "repeats": r.repeats, "settings": dict(r.fields)} for r in st] for st in design.stages
            ],
        },
        indent=indent,
    )


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise SpecError(f"{what} must be a whole number (got {json.dumps(v)[:40]})")
    return v


def from_json(text: str | bytes) -> Design:
    """A design from its JSON spec (:func:`to_json`). Raises SpecError naming the field that is wrong."""
    if len(text) > MAX_CHARS * 4:
        raise SpecError(f"the JSON spec has {len(text):,} characters; at most {MAX_CHARS * 4:,} are read")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise SpecError(f"the file is not JSON ({str(e)[:80]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SpecError(f'not an effnets design: a JSON spec has "format": "{FORMAT}" (write one with export)')
    unknown = sorted(set(data) - {"format", "version", "resolution", "in_channels", "stages", "name"})
    if unknown:
        raise SpecError(f"unknown key '{unknown[0][:40]}' in the JSON spec", unknown[0])
    if data.get("version", VERSION) != VERSION:
        got = data.get("version")
        raise SpecError(f"design format version {got!r} is not supported (this effnets reads {VERSION})")
    stages = data.get("stages")
    if not isinstance(stages, list):
        raise SpecError('the JSON spec needs "stages": a list of stages, each a list of rows')
    out = []
    for i, st in enumerate(stages, 1):
        if not isinstance(st, list) or not st:
            raise SpecError(f"stage {i} must be a non-empty list of rows")
        rows = []
        for j, r in enumerate(st, 1):
            where = f"stage {i}, row {j}"
            if not isinstance(r, dict):
                raise SpecError(f'{where} must be an object with "type", "repeats" and "settings"')
            bad = sorted(set(r) - {"type", "repeats", "settings"})
            if bad:
                raise SpecError(f"{where}: unknown key '{bad[0][:40]}'", bad[0])
            kind = r.get("type")
            if not isinstance(kind, str) or (kind not in BLOCKS and kind not in LAYERS):
                raise SpecError(f"{where}: {unknown_type(str(kind))}", "type", kind)
            settings = r.get("settings", {})
            if not isinstance(settings, dict):
                raise SpecError(f'{where}: "settings" must be an object of key: value')
            valid = _valid_keys(kind)
            fields = {}
            for k, v in settings.items():
                key = KEY_OF.get(k, k)
                if key not in valid:
                    raise _unknown_key(kind, key)
                if not isinstance(v, bool | int | float | str) or (isinstance(v, str) and not _VALUE.match(v)):
                    raise SpecError(f"{where}: the value of {key} must be a number, true/false or a short name", key)
                fields[key] = _typed(kind, key, _text(v))
            rows.append(Row(kind, tuple(fields.items()), _int(r.get("repeats", 1), f"{where}: repeats")))
        out.append(tuple(rows))
    design = Design(
        tuple(out),
        resolution=_int(data.get("resolution", 224), "resolution"),
        in_channels=_int(data.get("in_channels", 3), "in_channels"),
    )
    check_limits(design)
    return design


def parse(text: str) -> Design:
    """A design from either form: JSON when it starts with '{', else the architecture string."""
    return from_json(text) if text.lstrip().startswith("{") else decode(text)
