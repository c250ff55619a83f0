"""Typed contracts for every file and body the product reads, and the one translation of their
validation errors into :class:`~suanwang.errors.Fault` s (file, line, field path, value, fix).

Each file type is a pydantic model built from :class:`Contract` (unknown fields are faults, every
number finite and within a stated range). Checks that need what the file refers to (a site's
city, a pool's accelerator) are validators reading :class:`Refs` from the validation context, so
one pass reports every fault of a document at once; without a context (an API body checked by
FastAPI before the topology is at hand) they are skipped and run later with one.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, TypeVar, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

from suanwang.timeutil import parse_time
from suanwang.yamldoc import Checked, join

M = TypeVar("M", bound=BaseModel)

# -- common field types --------------------------------------------------------------------------
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"  # RFC 1123: names of objects, folders and contexts
MAX_TEXT = 1000  # characters of any free text (names, reasons, container arguments)


def _whole(v: Any) -> Any:
    """YAML ``8.0`` is the whole number 8; anything else is left to the strict check."""
    return int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2**63 else v


def whole(**constraints: Any) -> Any:
    """A whole number with ``constraints`` (``ge``, ``le``, …) that also shows in the JSON schema."""
    return Annotated[int, Field(strict=True, **constraints), BeforeValidator(_whole)]


def _time(value: Any) -> datetime:
    t = parse_time(value)
    if t is None:
        raise fault("is not a date-time", "write ISO 8601, e.g. 2026-11-25T09:00:00+08:00")
    return t


Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Time = Annotated[datetime, BeforeValidator(_time), Field(description="ISO 8601; without an offset, UTC+8")]
Whole = Annotated[int, BeforeValidator(_whole), Field(strict=True)]
PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # no control characters but tab and newlines
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT, pattern=PRINTABLE)]
Name = Annotated[str, StringConstraints(pattern=ID_PATTERN)]  # ids: letters, digits, . _ -; ≤ 63
Label = Annotated[str, StringConstraints(pattern=DNS_LABEL)]  # site ids: they become names of objects and folders


class Contract(BaseModel):
    """Base of every file and body contract: unknown fields are faults, models are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class Refs(dict):
    """Names a document may refer to, by kind (``"cities"``, ``"accelerators"``, …), passed as the
    validation context."""


def refs(info: ValidationInfo) -> Refs | None:
    return info.context if isinstance(info.context, Refs) else None


def must_be_one_of(value: str, names: Iterable[str], what: str, fix: str) -> str:
    """``value`` if it is among ``names``; else a fault "unknown ``what``" with ``fix``."""
    names = list(names)
    if value not in names:
        near = difflib.get_close_matches(value, names, n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise PydanticCustomError("unknown_ref", f"unknown {what}", {"fix": fix + hint})
    return value


def known(kind: str, what: str, fix: str = "use one of: {names}") -> AfterValidator:
    """A validator for a name that must be among the context's ``kind`` names: else the fault
    "unknown ``what``" with ``fix`` (``{names}`` lists them). Without a context it passes."""

    def check(value: str, info: ValidationInfo) -> str:
        r = refs(info)
        if r is None:
            return value
        names = r[kind]
        if value in names:  # the common case, without building the message
            return value
        names = list(names)
        return must_be_one_of(value, names, what, fix.format(names=", ".join(names)))

    return AfterValidator(check)


def fault(message: str, fix: str) -> PydanticCustomError:
    """A fault raised by a validator: the message says what is wrong, ``fix`` what to do."""
    return PydanticCustomError("contract", message, {"fix": fix})


# -- from pydantic's errors to faults --------------------------------------------------------------
def path_of(loc: Iterable[Any]) -> str:
    """``sites[3].pools`` from pydantic's location tuple (a mapping key's own error is at the key)."""
    path = ""
    for part in loc:
        if part == "[key]":
            continue
        path = join(path, part if isinstance(part, int) else str(part))
    return path


def _unwrap(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (Union, types.UnionType):
        return [t for a in typing.get_args(tp) for t in _unwrap(a)]
    if origin in (list, tuple, dict):
        return [t for a in typing.get_args(tp)[-1:] for t in _unwrap(a)]
    return [tp]


def _fields_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model found at ``loc`` inside ``model`` (for spelling hints)."""
    current: list[Any] = [model] if model is not None else []
    for part in loc:
        if isinstance(part, int):
            continue
        nxt = []
        for c in current:
            if isinstance(c, type) and issubclass(c, BaseModel):
                f = c.model_fields.get(part) or next((f for f in c.model_fields.values() if f.alias == part), None)
                if f is not None:
                    nxt += _unwrap(f.annotation)
                else:  # a key of a mapping field: stay on the value type
                    nxt.append(c)
        current = [c for c in nxt if isinstance(c, type) and issubclass(c, BaseModel)] or nxt
    names: list[str] = []
    for c in current:
        if isinstance(c, type) and issubclass(c, BaseModel):
            names += [f.alias or n for n, f in c.model_fields.items()]
    return names


def _range(ctx: dict[str, Any]) -> str:
    for k in ("gt", "ge", "lt", "le"):
        if k in ctx:
            return str(ctx[k])
    return ""


def explain(error: dict[str, Any], model: type[BaseModel] | None = None) -> tuple[str, str, Any]:
    """``(message, fix, value)`` for one pydantic error, in the product's words."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    loc = tuple(error.get("loc") or ())
    key = next((str(p) for p in reversed(loc) if not isinstance(p, int)), "value")
    if kind in ("unknown_ref", "contract"):
        return error["msg"], str(ctx.get("fix", "correct the value")), value
    if kind == "missing" or (value is None and kind.endswith("_type")):
        return "is required", f"add `{key}:`", None
    if kind == "extra_forbidden":
        allowed = _fields_at(model, loc[:-1])
        near = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean `{near[0]}`?" if near else f"allowed: {', '.join(allowed)}"
        return "unknown field", f"remove it; {hint}", key
    if kind == "greater_than":
        bound = _range(ctx)
        msg = "must be greater than zero" if str(bound) in ("0", "0.0") else f"must be greater than {bound}"
        return msg, f"give `{key}` a value above {bound}", value
    if kind == "greater_than_equal":
        return f"must be at least {_range(ctx)}", f"raise `{key}` to {_range(ctx)} or more", value
    if kind in ("less_than_equal", "less_than"):
        word = "at most" if kind == "less_than_equal" else "less than"
        return f"must be {word} {_range(ctx)}", f"lower `{key}` to {_range(ctx)} or less", value
    if kind == "finite_number":
        return "must be a finite number", f"write `{key}:` with a finite number", str(value)
    if kind in ("int_type", "int_parsing", "int_from_float", "int_parsing_size"):
        return "must be a whole number", f"write `{key}:` with a whole number", value
    if kind in ("float_type", "float_parsing"):
        return "must be a number", f"write `{key}:` with a number", value
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false", f"write `{key}: true` or `{key}: false`", value
    if kind in ("string_type",):
        return "must be a text value", f"write `{key}: some-name`", value
    if kind == "string_too_long":
        return f"is longer than {ctx.get('max_length')} characters", f"shorten `{key}`", f"{str(value)[:40]}…"
    if kind == "string_pattern_mismatch":
        return (
            "may hold only letters, digits, '.', '_' and '-' (up to 63, starting with a letter or digit)",
            f"rename `{key}`",
            str(value)[:80],
        )
    if kind == "literal_error":
        return "is not one of the allowed values", f"use one of: {ctx.get('expected', '')}", value
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be a mapping of key: value", "write it as `key: value` lines", _short(value)
    if kind in ("list_type", "tuple_type"):
        return "must be a list", "write each entry on a `- ` line", _short(value)
    if kind in ("too_short", "too_long"):
        word = "at least" if kind == "too_short" else "at most"
        limit = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return f"must have {word} {limit} entries", f"give `{key}` {word} {limit} entries", None
    if kind == "value_error":
        return str(ctx.get("error", error["msg"])), "correct the value", value
    return error["msg"], "correct the value", _short(value)


def _label(value: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")[:63] or "site"


def _short(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return f"<{type(value).__name__} of {len(value)}>"
    return value


def record(doc: Checked, error: ValidationError, model: type[BaseModel], prefix: str = "") -> None:
    """Every error of a validation as a fault of ``doc`` (with its line where known)."""
    for e in error.errors(include_url=False):
        message, fix, value = explain(e, model)
        doc.fault(join(prefix, path_of(e["loc"])) if prefix else path_of(e["loc"]), message, fix, value)


def validate(model: type[M], doc: Checked, data: Any, context: Refs | None = None, prefix: str = "") -> M | None:
    """``data`` as ``model``, or ``None`` with every fault recorded in ``doc``."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as e:
        record(doc, e, model, prefix)
        return None
