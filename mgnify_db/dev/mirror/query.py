"""The ENA Portal API ``query`` language: ``field=value``, ``!= < <= > >=``, ``AND OR NOT``,
parentheses, ``*`` wildcards, ``tax_eq()``/``tax_tree()``, compiled to a record predicate."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .errors import MirrorError

Predicate = Callable[[dict[str, str]], bool]

_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<lparen>\()|(?P<rparen>\))|(?P<comma>,)
        |(?P<op>!=|<=|>=|=|<|>)
        |"(?P<string>(?:[^"\\]|\\.)*)"
        |(?P<word>[^\s()"=<>!,]+)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"AND", "OR", "NOT"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # lparen rparen comma op string word
    text: str


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise MirrorError(f"Invalid query: unexpected character at {pos}: {text[pos:]!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value)
        tokens.append(_Tok(kind, value))
    return tokens


@dataclass(frozen=True)
class _Equals:
    """``field=value``: case-insensitive, ``*`` wildcards, or one item of a ';'-list."""

    field: str
    wanted: str  # lower-cased

    def __call__(self, record: dict[str, str]) -> bool:
        have = str(record.get(self.field, "")).lower()
        if "*" in self.wanted:
            return fnmatch.fnmatchcase(have, self.wanted)
        return have == self.wanted or self.wanted in have.split(";")


@dataclass(frozen=True)
class _AnyOf:
    """``f=a OR f=b OR ...`` without wildcards, as one set lookup: the ENA client asks for
    samples 100 accessions at a time, and 100 predicates per record made large studies slow."""

    field: str
    wanted: frozenset[str]  # lower-cased

    def __call__(self, record: dict[str, str]) -> bool:
        have = str(record.get(self.field, "")).lower()
        return have in self.wanted or any(part in self.wanted for part in have.split(";"))


def _any(parts: list[Predicate]) -> Predicate:
    plain = [p for p in parts if isinstance(p, _Equals) and "*" not in p.wanted]
    if len(plain) == len(parts) and len({p.field for p in plain}) == 1:
        return _AnyOf(plain[0].field, frozenset(p.wanted for p in plain))
    return lambda r: any(p(r) for p in parts)


class _QueryParser:
    """Recursive descent over ``expr := and (OR and)*; and := not (AND not)*;
    not := NOT not | '(' expr ')' | field op value | func '(' value ')'``."""

    def __init__(self, text: str, fields: Iterable[str]) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.fields = set(fields)

    def parse(self) -> Predicate:
        if not self.tokens:
            raise MirrorError("Invalid query: empty")
        pred = self._or()
        if self.pos != len(self.tokens):
            raise MirrorError(f"Invalid query: unexpected {self.tokens[self.pos].text!r}")
        return pred

    def _peek(self) -> _Tok | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, kind: str | None = None) -> _Tok:
        tok = self._peek()
        if tok is None or (kind is not None and tok.kind != kind):
            got = "end of query" if tok is None else repr(tok.text)
            raise MirrorError(f"Invalid query: expected {kind or 'a term'}, got {got}")
        self.pos += 1
        return tok

    def _keyword(self, word: str) -> bool:
        tok = self._peek()
        if tok is not None and tok.kind == "word" and tok.text.upper() == word:
            self.pos += 1
            return True
        return False

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._keyword("OR"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else _any(parts)

    def _and(self) -> Predicate:
        parts = [self._not()]
        while self._keyword("AND"):
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def _not(self) -> Predicate:
        if self._keyword("NOT"):
            inner = self._not()
            return lambda r: not inner(r)
        tok = self._peek()
        if tok is not None and tok.kind == "lparen":
            self.pos += 1
            inner = self._or()
            self._take("rparen")
            return inner
        return self._term()

    def _term(self) -> Predicate:
        name = self._take("word")
        if name.text.upper() in _KEYWORDS:
            raise MirrorError(f"Invalid query: unexpected {name.text!r}")
        nxt = self._peek()
        if nxt is not None and nxt.kind == "lparen":
            return self._function(name.text)
        field = name.text
        if field not in self.fields:
            raise MirrorError(f"Invalid query: unknown field {field!r}")
        op = self._take("op").text
        value_tok = self._take()
        if value_tok.kind not in ("word", "string"):
            raise MirrorError(f"Invalid query: expected a value after {field}{op}")
        return _comparison(field, op, value_tok.text)

    def _function(self, name: str) -> Predicate:
        self._take("lparen")
        arg = self._take()
        if arg.kind not in ("word", "string"):
            raise MirrorError(f"Invalid query: bad argument to {name}()")
        args = [arg.text]
        while (tok := self._peek()) is not None and tok.kind == "comma":
            self.pos += 1
            args.append(self._take().text)
        self._take("rparen")
        if name.lower() in ("tax_eq", "tax_tree"):
            # No taxonomy tree offline: tax_tree(N) matches tax_id N only.
            return _comparison("tax_id", "=", args[0])
        raise MirrorError(f"Invalid query: unknown function {name!r}")


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _comparison(field: str, op: str, value: str) -> Predicate:
    equals = _Equals(field, value.lower())
    if op == "=":
        return equals
    if op == "!=":
        return lambda r: not equals(r)

    def ordered(record: dict[str, str]) -> bool:
        have = str(record.get(field, ""))
        if have == "":
            return False
        a, b = _number(have), _number(value)
        left, right = (a, b) if a is not None and b is not None else (have, value)
        return {
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[op]

    return ordered


def parse_query(query: str, fields: Iterable[str]) -> Predicate:
    """Compile an ENA ``query`` string to a record predicate; raise `MirrorError` if invalid.

    The whole query may be wrapped in double quotes (with ``\\"`` escapes inside), as emgapi sends.
    """
    query = query.strip()
    fields = set(fields)
    candidates = [query]
    if len(query) >= 2 and query[0] == query[-1] == '"':
        candidates.insert(0, query[1:-1].replace('\\"', '"'))
    error: MirrorError | None = None
    for candidate in candidates:
        try:
            return _QueryParser(candidate, fields).parse()
        except MirrorError as exc:
            error = error or exc
    assert error is not None
    raise error
