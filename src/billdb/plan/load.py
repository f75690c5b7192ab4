"""Read a plan file and turn every validation error into one line: file, line, key, allowed."""

from __future__ import annotations

import difflib
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from billdb.errors import PlanError
from billdb.plan.models import Plan

DEFAULT_PLAN = Path("plans/bill-inquiry.yaml")


def load_plan(path: Path | str = DEFAULT_PLAN) -> Plan:
    """Parse and validate a plan file; raise PlanError with a one-line message."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"{path}: cannot read the plan file: {exc.strerror}",
                        str(path)) from None
    try:
        doc = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else "?"
        raise PlanError(f"{path}:{line}: not valid YAML: {exc.problem}", str(path),
                        line if isinstance(line, int) else None) from None
    if not isinstance(doc, CommentedMap):
        raise PlanError(f"{path}:1: the plan must be a mapping of sections", str(path), 1)
    try:
        return Plan.model_validate(_plain(doc))
    except ValidationError as exc:
        line, key, msg = _first_error(doc, exc)
        raise PlanError(f"{path}:{line}: {key}: {msg}", str(path), line, key) from None


def _plain(node: Any) -> Any:
    """ruamel's round-trip types to plain Python, so strict validation sees real types."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    for kind in (int, float, str):
        if isinstance(node, kind):
            return kind(node)
    return node


def _first_error(doc: CommentedMap, exc: ValidationError) -> tuple[int, str, str]:
    """(line, dotted key, message) of the error that says most."""
    errors = exc.errors(include_url=False)
    # A misspelled key shows up as "unknown" and "missing": the unknown one says more.
    err = min(errors, key=lambda e: e["type"] != "extra_forbidden")
    loc = tuple(err["loc"])
    line = _line_of(doc, loc)
    key = ".".join(str(p) for p in loc) or "(top level)"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        msg = f"unknown key{hint} allowed keys: {', '.join(allowed)}"
    elif err["type"] == "missing":
        msg = "required key is missing"
    elif err["type"] == "value_error":
        msg = msg.removeprefix("Value error, ")
    elif "input" in err and not isinstance(err["input"], dict | list):
        msg = f"{msg} (got {err['input']!r})"
    return line, key, msg


def _line_of(doc: Any, loc: tuple) -> int:
    """The 1-based line of the deepest node of `loc` that exists in the document."""
    line, node = 1, doc
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


def _allowed_keys(loc: tuple) -> list[str]:
    """Field names of the model found at `loc`, walking the Plan's annotations."""
    ann: Any = Plan
    for part in loc:
        ann = _unwrap(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            field = ann.model_fields.get(str(part))
            if field is None:
                return []
            ann = field.annotation
        elif get_origin(ann) in (list, dict):
            ann = get_args(ann)[-1]
    ann = _unwrap(ann)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return sorted(ann.model_fields)
    return []


def _unwrap(ann: Any) -> Any:
    """`M | None` -> M; anything else unchanged."""
    if get_origin(ann) in (Union, UnionType):
        args = [a for a in get_args(ann) if a is not type(None)]
        return args[0] if len(args) == 1 else ann
    return ann
