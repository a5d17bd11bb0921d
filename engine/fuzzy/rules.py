"""The antecedent language of the policy's fuzzy rules: a tokenizer and a recursive-descent parser (no eval).

Grammar (keywords are lower case; `and` binds tighter than `or`; both associate to the left, as
scikit-fuzzy's `&` / `|` chains do)::

    expr  := conj ("or" conj)*
    conj  := unary ("and" unary)*
    unary := "not" unary | "(" expr ")" | NAME "is" ["not"] NAME

`var is not term` is the complement of `var is term` (1 − μ), exactly as `not (var is term)`.
The tree is evaluated by both paths: the NumPy fast path (`evaluate`, `compile_scalar`) and the
scikit-fuzzy reference (which turns it into `&`, `|`, `~` over Terms).

This module imports nothing of the project so that the policy models can validate rules with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, Union

__all__ = [
    "And",
    "Is",
    "Node",
    "Not",
    "Or",
    "RuleSyntaxError",
    "compile_scalar",
    "evaluate",
    "parse_rule",
    "referenced_terms",
]

KEYWORDS = frozenset({"is", "not", "and", "or"})
_TOKEN = re.compile(r"\s*(?:(?P<paren>[()])|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<bad>\S))")


class RuleSyntaxError(ValueError):
    """A rule that does not parse or names an unknown variable or term; says what and where. `kind`
    (unexpected_character, expected, unknown_variable, unknown_term) and `ctx` (position, names) let an adapter
    say it in its own words (core.copy_es)."""

    def __init__(self, message: str, kind: str = "syntax", **ctx: Any) -> None:
        super().__init__(message)
        self.kind, self.ctx = kind, ctx


@dataclass(frozen=True, slots=True)
class Is:
    var: str
    term: str

    def __str__(self) -> str:
        return f"{self.var} is {self.term}"


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node

    def __str__(self) -> str:
        return f"not ({self.operand})"


@dataclass(frozen=True, slots=True)
class And:
    left: Node
    right: Node

    def __str__(self) -> str:
        return f"({self.left} and {self.right})"


@dataclass(frozen=True, slots=True)
class Or:
    left: Node
    right: Node

    def __str__(self) -> str:
        return f"({self.left} or {self.right})"


Node = Union[Is, Not, And, Or]  # noqa: UP007 - a runtime alias used by the dataclasses above


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # "(", ")", "name", "end"
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # only trailing whitespace is left
            break
        if m.group("bad") is not None:
            raise RuleSyntaxError(
                f"unexpected character {m.group('bad')!r} at position {m.start('bad')}",
                "unexpected_character",
                found=m.group("bad"),
                position=m.start("bad"),
            )
        if m.group("paren") is not None:
            toks.append(_Tok(m.group("paren"), m.group("paren"), m.start("paren")))
        else:
            toks.append(_Tok("name", m.group("name"), m.start("name")))
        pos = m.end()
    toks.append(_Tok("end", "", len(text)))
    return toks


class _Parser:
    def __init__(self, text: str, variables: Mapping[str, Iterable[str]] | None) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.variables = {v: tuple(ts) for v, ts in variables.items()} if variables is not None else None

    # -- helpers
    def _peek(self) -> _Tok:
        return self.toks[self.i]

    def _next(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def _is_kw(self, word: str) -> bool:
        tok = self._peek()
        return tok.kind == "name" and tok.text == word

    def _fail(self, expected: str, tok: _Tok) -> RuleSyntaxError:
        found = "end of rule" if tok.kind == "end" else repr(tok.text)
        return RuleSyntaxError(
            f"expected {expected} at position {tok.pos}, found {found}",
            "expected",
            position=tok.pos,
            found=None if tok.kind == "end" else tok.text,
        )

    # -- grammar
    def parse(self) -> Node:
        node = self._expr()
        tok = self._peek()
        if tok.kind != "end":
            raise self._fail("'and', 'or' or end of rule", tok)
        return node

    def _expr(self) -> Node:
        node = self._conj()
        while self._is_kw("or"):
            self._next()
            node = Or(node, self._conj())
        return node

    def _conj(self) -> Node:
        node = self._unary()
        while self._is_kw("and"):
            self._next()
            node = And(node, self._unary())
        return node

    def _unary(self) -> Node:
        tok = self._peek()
        if self._is_kw("not"):
            self._next()
            return Not(self._unary())
        if tok.kind == "(":
            self._next()
            node = self._expr()
            close = self._next()
            if close.kind != ")":
                raise self._fail("')'", close)
            return node
        return self._clause()

    def _clause(self) -> Node:
        var = self._next()
        if var.kind != "name" or var.text in KEYWORDS:
            raise self._fail("a variable name, 'not' or '('", var)
        is_ = self._next()
        if not (is_.kind == "name" and is_.text == "is"):
            raise self._fail(f"'is' after '{var.text}'", is_)
        negated = False
        if self._is_kw("not"):
            self._next()
            negated = True
        term = self._next()
        if term.kind != "name" or term.text in KEYWORDS:
            raise self._fail(f"a term name after '{var.text} is{' not' if negated else ''}'", term)
        self._check_names(var, term)
        node: Node = Is(var.text, term.text)
        return Not(node) if negated else node

    def _check_names(self, var: _Tok, term: _Tok) -> None:
        if self.variables is None:
            return
        if var.text not in self.variables:
            known = ", ".join(sorted(self.variables))
            raise RuleSyntaxError(
                f"unknown variable '{var.text}' at position {var.pos} (known: {known})",
                "unknown_variable",
                variable=var.text,
                position=var.pos,
                known=sorted(self.variables),
            )
        terms = self.variables[var.text]
        if term.text not in terms:
            raise RuleSyntaxError(
                f"'{term.text}' at position {term.pos} is not a term of '{var.text}' (terms: {', '.join(terms)})",
                "unknown_term",
                term=term.text,
                variable=var.text,
                position=term.pos,
                known=list(terms),
            )


def parse_rule(text: str, variables: Mapping[str, Iterable[str]] | None = None) -> Node:
    """Parse one antecedent. With `variables` (name -> term names) unknown names are errors too."""
    return _Parser(text, variables).parse()


def referenced_terms(node: Node) -> Iterator[Is]:
    """Every `var is term` clause of the tree, left to right (repeats included)."""
    if isinstance(node, Is):
        yield node
    elif isinstance(node, Not):
        yield from referenced_terms(node.operand)
    else:
        yield from referenced_terms(node.left)
        yield from referenced_terms(node.right)


T = TypeVar("T")


def evaluate(
    node: Node,
    leaf: Callable[[Is], T],
    and_: Callable[[T, T], T],
    or_: Callable[[T, T], T],
    not_: Callable[[T], T],
) -> T:
    """Fold the tree with the given operators (min/max/complement for Mamdani; &, |, ~ for scikit-fuzzy)."""
    if isinstance(node, Is):
        return leaf(node)
    if isinstance(node, Not):
        return not_(evaluate(node.operand, leaf, and_, or_, not_))
    left = evaluate(node.left, leaf, and_, or_, not_)
    right = evaluate(node.right, leaf, and_, or_, not_)
    return and_(left, right) if isinstance(node, And) else or_(left, right)


def compile_scalar(node: Node, slot: Mapping[tuple[str, str], int]) -> Callable[[Sequence[float]], float]:
    """A closure computing the firing strength from a flat list of memberships (`slot` maps (var, term) to
    its index). Min/max/1−x on Python floats: the same values as scikit-fuzzy's np.fmin/np.fmax/1.−x.
    Leaves are read in place rather than through a call of their own: this runs on every assessment."""
    if isinstance(node, Is):
        i = slot[(node.var, node.term)]
        return lambda mu: mu[i]
    if isinstance(node, Not):
        if isinstance(node.operand, Is):
            i = slot[(node.operand.var, node.operand.term)]
            return lambda mu: 1.0 - mu[i]
        inner = compile_scalar(node.operand, slot)
        return lambda mu: 1.0 - inner(mu)
    is_and = isinstance(node, And)
    if isinstance(node.left, Is) and isinstance(node.right, Is):
        i, j = slot[(node.left.var, node.left.term)], slot[(node.right.var, node.right.term)]
        if is_and:
            return lambda mu: mu[i] if mu[i] < mu[j] else mu[j]
        return lambda mu: mu[i] if mu[i] > mu[j] else mu[j]
    left = compile_scalar(node.left, slot)
    right = compile_scalar(node.right, slot)
    if is_and:
        return lambda mu: min(left(mu), right(mu))
    return lambda mu: max(left(mu), right(mu))
