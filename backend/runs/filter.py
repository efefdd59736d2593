"""The run filter language of ``GET /api/runs?filter=``: a grammar, a checker and a compiler to SQL.

``metrics.best_val_accuracy > 0.9 and (params.regularization.dropout >= 0.3 or tags CONTAINS 'keep')``

It is MLflow's search syntax where MLflow has one (``params.``/``metrics.``/
``attributes.`` prefixes, quoted values, ``LIKE``/``ILIKE``/``IN``), with ``or``
and parentheses added. :func:`parse` turns text into a small tree of
:class:`Term`/:class:`Junction` (pure: no database), checking fields, operators
and value types on the way; :func:`to_sql` turns the tree into one SQLAlchemy
expression over ``runs`` whose values are all bound parameters, on SQLite or
PostgreSQL. Nothing of the text ever reaches SQL as SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import lark
from sqlalchemy import Boolean, Float, and_, case, cast, exists, func, literal, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from backend.runs.models import Run
from reglab.states import ALL_STATES
from backend.spec_fields import resolve
from backend.trainer.external import EXTERNAL

MAX_LENGTH = 2000
MAX_TERMS = 50
MAX_VALUES = 100  # in one IN (...) list
MAX_DEPTH = 16  # nested parentheses

GRAMMAR = r"""
?start: disjunction
?disjunction: conjunction (_OR conjunction)*
?conjunction: _atom (_AND _atom)*
_atom: term | "(" disjunction ")"
term: FIELD OP value
    | FIELD IN "(" value ("," value)* ")"
    | FIELD NOT IN "(" value ("," value)* ")"  -> not_in
?value: NUMBER | STRING | TRUE | FALSE

_OR.2: /or\b/i
_AND.2: /and\b/i
NOT.2: /not\b/i
IN.2: /in\b/i
TRUE.2: /true\b/i
FALSE.2: /false\b/i
OP: "<=" | ">=" | "!=" | "<>" | "==" | "=" | "<" | ">" | /(i?like|contains)\b/i
FIELD: /[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|`[^`"]+`))*/
NUMBER: /[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/
STRING: /'(\\.|[^'\\])*'/ | /"(\\.|[^"\\])*"/
%ignore /\s+/
"""

# How an error message names what the parser wanted next.
EXPECTED_WORDS = {
    "NUMBER": "a value", "STRING": "a value", "TRUE": "a value", "FALSE": "a value",
    "FIELD": "a field", "OP": "an operator", "IN": "an operator", "NOT": "an operator",
    "_AND": "'and'", "_OR": "'or'", "LPAR": "'('", "RPAR": "')'", "COMMA": "','", "$END": "the end",
}  # fmt: skip

ATTRIBUTES = {
    # name: (kind, column); kind says which operators and values apply
    "id": ("integer", Run.id),
    "experiment_id": ("integer", Run.experiment_id),
    "name": ("text", Run.name),
    "notes": ("text", Run.notes),
    "state": ("state", Run.state),
    "tags": ("tags", Run.tags),
}
ALIASES = {"run_name": "name", "run_id": "id", "status": "state"}  # MLflow's attribute names
NUMBER_OPS = {"=", "!=", "<", "<=", ">", ">=", "in", "not in"}
TEXT_OPS = {"=", "!=", "like", "ilike", "contains", "in", "not in"}
OPS_OF = {
    "integer": NUMBER_OPS,
    "number": NUMBER_OPS,
    "text": TEXT_OPS,
    "choice": {"=", "!=", "like", "ilike", "in", "not in"},
    "state": {"=", "!=", "in", "not in"},
    "boolean": {"=", "!="},
    "tags": {"contains"},
    "param": NUMBER_OPS | TEXT_OPS,  # a free-form param of an external run: the value's type decides
}


class FilterError(ValueError):
    """A filter that cannot run: the message says what and where (a character position, from 0)."""

    def __init__(self, message: str, position: int):
        super().__init__(f"{message} at position {position}")
        self.position = position


@dataclass(frozen=True)
class Field:
    kind: str  # a key of OPS_OF
    source: str  # "attribute" | "params" | "metrics"
    path: tuple[str, ...]  # the attribute's name, or the path in the spec / the summary key
    text: str  # as written


@dataclass(frozen=True)
class Term:
    field: Field
    op: str  # lower case: = != < <= > >= like ilike contains in "not in"
    values: tuple[Any, ...]
    position: int


@dataclass(frozen=True)
class Junction:
    kind: str  # "and" | "or"
    parts: tuple[Term | Junction, ...]


@lru_cache
def _parser() -> lark.Lark:
    return lark.Lark(GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False)


def parse(text: str) -> Term | Junction:
    """The tree of ``text``; :class:`FilterError` for anything malformed, unknown or of the wrong type."""
    if len(text) > MAX_LENGTH:
        raise FilterError(f"the filter is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    if not text.strip():
        raise FilterError("the filter is empty", 0)
    parser = _parser()
    try:
        tokens = list(parser.lex(text))
    except lark.UnexpectedCharacters as exc:
        raise FilterError(f"unexpected character {text[exc.pos_in_stream]!r}", exc.pos_in_stream) from None
    _check_depth(tokens)
    try:
        tree = parser.parse(text)
    except lark.UnexpectedInput as exc:
        raise _syntax_error(text, tokens, exc) from None
    node = _build(tree)
    terms = _count_terms(node)
    if terms > MAX_TERMS:
        raise FilterError(f"the filter has {terms} terms; at most {MAX_TERMS} are allowed", 0)
    return node


def _check_depth(tokens: list[lark.Token]) -> None:
    depth = 0
    for token in tokens:
        if token.type == "LPAR":
            depth += 1
            if depth > MAX_DEPTH:
                raise FilterError(f"parentheses nest deeper than {MAX_DEPTH} levels", token.start_pos)
        elif token.type == "RPAR":
            depth -= 1


def _syntax_error(text: str, tokens: list[lark.Token], exc: lark.UnexpectedInput) -> FilterError:
    token = getattr(exc, "token", None)
    at_end = token is None or token.type == "$END"
    position = len(text) if at_end else token.start_pos
    # accepts (tried on the parser state) is exact; expected may hold what only another branch of LALR takes.
    expected = getattr(exc, "accepts", None) or getattr(exc, "expected", None) or set()
    words = sorted({EXPECTED_WORDS.get(name, name.lower()) for name in expected})
    wanted = " or ".join(words) if words else "something else"
    before = [t for t in tokens if t.end_pos <= position]
    after = f" after {str(before[-1])!r}" if before else ""
    if at_end:
        return FilterError(f"expected {wanted}{after}, but the filter ends", position)
    return FilterError(f"expected {wanted}{after}, got {str(token)!r}", position)


def _build(tree: lark.Tree | lark.Token) -> Term | Junction:
    # The tree is as deep as the parentheses (bounded), so recursion is safe here.
    if tree.data in ("disjunction", "conjunction"):
        kind = "or" if tree.data == "disjunction" else "and"
        return Junction(kind, tuple(_build(child) for child in tree.children))
    field_token = tree.children[0]
    if tree.data == "not_in":
        op, values = "not in", tree.children[3:]
    elif tree.children[1].type == "IN":
        op, values = "in", tree.children[2:]
    else:
        op, values = _op(str(tree.children[1])), tree.children[2:]
    if len(values) > MAX_VALUES:
        raise FilterError(f"IN lists take at most {MAX_VALUES} values", values[MAX_VALUES].start_pos)
    field = _field(field_token)
    parsed = tuple(_value(token) for token in values)
    _check(field, op, parsed, values, field_token.start_pos)
    return Term(field, op, parsed, field_token.start_pos)


def _op(text: str) -> str:
    text = text.lower()
    return {"==": "=", "<>": "!="}.get(text, text)


def _segments(text: str) -> list[str]:
    parts, current, quoted = [], "", False
    for char in text:
        if char == "`":
            quoted = not quoted
        elif char == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _field(token: lark.Token) -> Field:
    text = str(token)
    prefix, *rest = _segments(text)
    prefix_lower = prefix.lower()
    if prefix_lower in ("params", "param") and rest:
        path_text, bounds = resolve(tuple(rest))
        if bounds is None:
            return Field("param", "params", tuple(rest), text)  # free-form params of external runs
        if bounds.kind in ("object", "list", "mapping", "other"):
            raise FilterError(f"{text} is {'a section' if bounds.kind == 'object' else 'a ' + bounds.kind}, not a single value", token.start_pos)
        return Field(bounds.kind, "params", tuple(rest), text)
    if prefix_lower in ("metrics", "metric") and len(rest) == 1:
        return Field("number", "metrics", tuple(rest), text)
    if prefix_lower == "attributes" and len(rest) == 1:
        prefix_lower, rest = rest[0].lower(), []
    name = ALIASES.get(prefix_lower, prefix_lower)
    if not rest and name in ATTRIBUTES:
        return Field(ATTRIBUTES[name][0], "attribute", (name,), text)
    known = ", ".join(["params.<spec field>", "metrics.<summary name>", *ATTRIBUTES])
    raise FilterError(f"unknown field {text!r} (known: {known})", token.start_pos)


def _value(token: lark.Token) -> Any:
    if token.type == "NUMBER":
        number = float(token)
        return int(number) if number.is_integer() and "." not in token and "e" not in token.lower() else number
    if token.type == "TRUE":
        return True
    if token.type == "FALSE":
        return False
    body = str(token)[1:-1]
    # Only the quote and the backslash itself are escaped, so LIKE's \% and \_ reach the pattern as written.
    out, index = [], 0
    while index < len(body):
        if body[index] == "\\" and index + 1 < len(body) and body[index + 1] in "'\"\\":
            out.append(body[index + 1])
            index += 2
        else:
            out.append(body[index])
            index += 1
    return "".join(out)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, int | float) else "a string"


def _check(field: Field, op: str, values: tuple[Any, ...], tokens: list[lark.Token], position: int) -> None:
    """Operators that apply to the field, and values of its type."""
    ops = OPS_OF[field.kind]
    shown_op = op.upper() if op[0].isalpha() else op
    if op not in ops:
        allowed = " ".join(o.upper() if o[0].isalpha() else o for o in sorted(ops, key=len))
        raise FilterError(f"{shown_op} does not apply to {field.text} (use {allowed})", position)
    if op in ("like", "ilike", "contains") and not isinstance(values[0], str):
        raise FilterError(f"{shown_op} needs a string, got {_type_name(values[0])}", tokens[0].start_pos)
    kinds = {_type_name(v) for v in values}
    if len(kinds) > 1:
        raise FilterError(f"the values of {field.text} {shown_op} mix types ({', '.join(sorted(kinds))})", tokens[0].start_pos)
    for value, token in zip(values, tokens, strict=True):
        wanted = _wanted(field, value)
        if wanted is not None:
            raise FilterError(f"{field.text} takes {wanted}, got {str(token)}", token.start_pos)
    if field.kind == "param" and op in ("<", "<=", ">", ">=") and not isinstance(values[0], int | float):
        raise FilterError(f"{shown_op} compares numbers, got {_type_name(values[0])}", tokens[0].start_pos)


def _wanted(field: Field, value: Any) -> str | None:
    """What the field takes, when ``value`` is not of it; None when it is."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if field.kind in ("integer", "number"):
        return None if is_number else "a number"
    if field.kind in ("text", "tags"):
        return None if isinstance(value, str) else "a string"
    if field.kind == "boolean":
        return None if isinstance(value, bool) else "true or false"
    if field.kind == "state":
        return None if value in ALL_STATES else "one of " + ", ".join(f"'{s}'" for s in sorted(ALL_STATES))
    if field.kind == "choice":
        return None if isinstance(value, str) else "a string"
    return None


def _count_terms(node: Term | Junction) -> int:
    return 1 if isinstance(node, Term) else sum(_count_terms(part) for part in node.parts)


# Compiling to SQL.


def to_sql(node: Term | Junction, dialect: str) -> ColumnElement[bool]:
    """One boolean SQL expression over ``runs`` for ``node`` (``dialect``: "sqlite" or "postgresql")."""
    if isinstance(node, Junction):
        parts = [to_sql(part, dialect) for part in node.parts]
        return and_(*parts) if node.kind == "and" else or_(*parts)
    return _term_sql(node, dialect)


def compile_filter(text: str, dialect: str) -> ColumnElement[bool]:
    """:func:`parse` then :func:`to_sql`."""
    return to_sql(parse(text), dialect)


def _term_sql(term: Term, dialect: str) -> ColumnElement[bool]:
    field, op, values = term.field, term.op, term.values
    if field.kind == "tags":
        return _tag_contains(values[0], dialect)
    value_type = "number" if isinstance(values[0], int | float) and not isinstance(values[0], bool) else (
        "boolean" if isinstance(values[0], bool) else "string"
    )
    if field.source == "attribute":
        target = ATTRIBUTES[field.path[0]][1]
    elif field.source == "metrics":
        target = _json_value(Run.summary, [field.path], "number", dialect)
    else:
        paths = [field.path, (EXTERNAL, "params", *field.path)]
        if len(field.path) > 1:  # an external run may log a dotted name as one key ({"optimizer.lr": 0.1})
            paths.append((EXTERNAL, "params", ".".join(field.path)))
        target = _json_value(Run.spec, paths, value_type, dialect)
    return _compare(target, op, values, dialect)


def _compare(target: Any, op: str, values: tuple[Any, ...], dialect: str) -> ColumnElement[bool]:
    value = values[0]
    if op == "=":
        return target == value
    if op == "!=":
        return target != value  # runs without the value are not returned (null is not unequal)
    if op == "<":
        return target < value
    if op == "<=":
        return target <= value
    if op == ">":
        return target > value
    if op == ">=":
        return target >= value
    if op == "in":
        return target.in_(list(values))
    if op == "not in":
        return and_(target.is_not(None), target.not_in(list(values)))
    if op == "contains":  # a substring, case-sensitive on both databases
        return (func.strpos(target, value) if dialect == "postgresql" else func.instr(target, value)) > 0
    if op == "ilike":
        return func.lower(target).like(func.lower(literal(value)), escape="\\")
    return _like(target, value, dialect)


def _like(target: Any, pattern: str, dialect: str) -> ColumnElement[bool]:
    """LIKE, case-sensitive as in MLflow: on SQLite (whose LIKE ignores case) as the equivalent GLOB."""
    if dialect == "postgresql":
        return target.like(pattern, escape="\\")
    return target.op("GLOB")(like_to_glob(pattern))


def like_to_glob(pattern: str) -> str:
    """A LIKE pattern (``%``, ``_``, ``\\`` escapes) as an SQLite GLOB pattern."""
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            index += 1
            char = pattern[index]
            out.append(f"[{char}]" if char in "*?[" else char)
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        elif char in "*?[":
            out.append(f"[{char}]")
        else:
            out.append(char)
        index += 1
    return "".join(out)


def _json_value(column_: Any, paths: list[tuple[str, ...]], value_type: str, dialect: str) -> Any:
    """The value at the first of ``paths`` in a JSON column holding a ``value_type``, else null.

    The type test keeps a string from comparing with a number (SQLite orders any text
    after any number; PostgreSQL would fail to cast it).
    """
    found = [_typed(column_, path, value_type, dialect) for path in paths]
    return found[0] if len(found) == 1 else func.coalesce(*found)


def _typed(column_: Any, path: tuple[str, ...], value_type: str, dialect: str) -> Any:
    if dialect == "postgresql":
        element = type_coerce(column_, JSONB)[list(path)]
        # Cast only once the type test passed: a string is no float.
        value = {"number": cast(element.astext, Float), "string": element.astext, "boolean": cast(element.astext, Boolean)}[value_type]
        return case((func.jsonb_typeof(element) == value_type, value))
    json_path = "$" + "".join(f'."{part}"' for part in path)  # the grammar allows no '"' in a field
    kinds = {"number": ("integer", "real"), "string": ("text",), "boolean": ("true", "false")}[value_type]
    return case((func.json_type(column_, json_path).in_(kinds), func.json_extract(column_, json_path)))


def _tag_contains(tag: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return type_coerce(Run.tags, JSONB).contains([tag])
    each = func.json_each(Run.tags).table_valued("value")
    return exists(select(literal(1)).select_from(each).where(each.c.value == tag))
