"""Every setting checked by one set of rules, and a refusal told in one line.

The rules are the typed models of metcnv.model: CallSettings (thresholds), ReadSettings,
BinSettings, AlleleSettings (how reads and bins are made) and Sample (purity, ploidy).
Each field there is finite (NaN and infinities are refused), in its range, and the
settings agree with each other (amp_min_cn <= high_level_cn, the FISH thresholds rise).
The command line, the Python API and the workflow (config and sample sheet) all build
these models, so a value one of them refuses, every one refuses; only the names differ:
`--min-z` on the command line, `config call.min_z` in the workflow, a sheet column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar, Union, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from metcnv.errors import MetcnvError

M = TypeVar("M", bound=BaseModel)
Namer = Callable[[str], str]


def flag(field: str) -> str:
    """The command-line option of a field: min_z -> --min-z."""
    return "--" + field.replace("_", "-")


def checked(build: Callable[..., M], model: type[M], values: dict, name: Namer = flag) -> M:
    """`build(**values)` (a `model`), or a MetcnvError saying in one line which setting
    (as `name` spells it), what was given and what it must be."""
    try:
        return build(**values)
    except ValidationError as error:
        raise MetcnvError("; ".join(problems_of(error, model, values, name))) from None


def problems(
    model: type[BaseModel], values: dict, name: Namer, build: Callable | None = None
) -> list[str]:
    """Every problem of `values` as `model` settings, made by `build` (default: the model
    itself); none when they are fine."""
    try:
        (build or model)(**values)
    except ValidationError as error:
        return problems_of(error, model, values, name)
    return []


def problems_of(
    error: ValidationError, model: type[BaseModel], values: dict, name: Namer
) -> list[str]:
    """Each problem of a refused model: the setting, the value given, what it must be."""
    out = []
    for problem in error.errors():
        loc = [part for part in problem["loc"] if isinstance(part, str)]
        if not loc:  # a rule across fields: its message names them, as `name` spells them
            text = re.sub(r"^Value error, ", "", problem["msg"])
            for field in sorted(model.model_fields, key=len, reverse=True):
                text = re.sub(rf"\b{field}\b", name(field), text)
            out.append(text)
            continue
        field, info = _field(model, loc)
        if problem["type"] == "extra_forbidden":
            out.append(f"{name(loc[0])}: not a metcnv setting; remove it")
        elif info is None or problem["type"] == "missing":
            out.append(f"{name(loc[0])}: {problem['msg']}")
        else:
            given = f" {shown(values[field])}" if field in values else ""
            about = f" ({info.description})" if info.description else ""
            out.append(f"{name(field)}{given}: must be {requirement(info)}{about}")
    return out


def _field(model: type[BaseModel], loc: list[str]) -> tuple[str, FieldInfo | None]:
    """The top-level field a problem is about and the (possibly nested) field it fails."""
    info = None
    current: type | None = model
    for part in loc:
        fields = getattr(current, "model_fields", {})
        if part not in fields:
            break
        info = fields[part]
        current = next((t for t in _types(info.annotation) if isinstance(t, type)), None)
    return loc[0], info


def _types(annotation) -> tuple:
    """The types of an annotation, unions unpacked (`float | None` -> float, NoneType)."""
    if get_origin(annotation) is Union or type(annotation).__name__ == "UnionType":
        return get_args(annotation)
    return (annotation,)


def requirement(info: FieldInfo) -> str:
    """What a field must be, in words: 'a finite number in (0, 1]', 'a whole number >= 1'."""
    types = _types(info.annotation)
    if bool in types:
        return "true or false"
    kind = "a whole number" if int in types else "a finite number"
    low = high = None
    for rule in info.metadata:
        if isinstance(rule, at.Gt):
            low = ("(", rule.gt)
        elif isinstance(rule, at.Ge):
            low = ("[", rule.ge)
        elif isinstance(rule, at.Lt):
            high = (")", rule.lt)
        elif isinstance(rule, at.Le):
            high = ("]", rule.le)
    if low and high:
        return f"{kind} in {low[0]}{low[1]:g}, {high[1]:g}{high[0]}"
    if low:
        return f"{kind} {'>' if low[0] == '(' else '>='} {low[1]:g}"
    if high:
        return f"{kind} {'<=' if high[0] == ']' else '<'} {high[1]:g}"
    return kind


def shown(value) -> str:
    """A given value as the user wrote it: 3, 0.25, nan, inf, 'x'."""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value) if isinstance(value, int) else repr(value)
