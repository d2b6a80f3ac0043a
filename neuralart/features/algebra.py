"""Objective algebra: objectives combined with weights, as Lucid's objectives add and scale ("fire5:7 + fire5:12 -
0.5*fire7:3"), written as text so that the CLI, the app, recipes and Python share one form.

The grammar (a recursive-descent parser; whitespace is free):

    figure  := sum [ "->" sum ]                  an interpolation runs from the first sum to the second
    sum     := [ "+" | "-" ] product { ( "+" | "-" ) product }
    product := factor { ( "*" | "/" ) factor }   objectives are scaled by numbers, never multiplied together
    factor  := NUMBER | term | "(" sum ")"
    term    := LAYER ":" INDEX                   a filter's mean activation (Lucid's "layer:n")
             | "channel" "(" LAYER ":" INDEX ")" | "neuron" "(" LAYER ":" INDEX ")"
             | "layer" "(" LAYER ")"              the whole layer, DeepDream-like
             | "class" "(" NAME or INDEX ")"      a classifier's logit, by ImageNet name ("goldfish") or index

A LAYER may be shortened to the part before its first "_" where one offered layer starts so ("fire5" for
"fire5_concat"); that is resolved against the network (neuralart.features.composite). Parsing turns the text into
weighted terms, the same term written twice adding up; a mistake raises a ValueError that shows the text with a
caret under the token at fault.
"""

from __future__ import annotations

import dataclasses
import re

from .classes import IMAGENET_CLASS_COUNT, class_index, class_name

TERM_KINDS = ("channel", "neuron", "layer", "class")
_TOKEN = re.compile(r"\s*(?:(?P<number>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)|(?P<symbol>->|[-+*/():]))")


@dataclasses.dataclass(frozen=True)
class Term:
    """One objective: `kind` (channel, neuron, layer or class) of `layer` (as written; empty for a class, which
    is the classifier's output) at `index` (a filter or a class; 0 for a whole layer)."""

    kind: str
    layer: str
    index: int = 0

    def __str__(self) -> str:
        if self.kind == "class":
            return f"class({class_name(self.index)})" if self.index < IMAGENET_CLASS_COUNT else f"class({self.index})"
        if self.kind == "layer":
            return f"layer({self.layer})"
        target = f"{self.layer}:{self.index}"
        return target if self.kind == "channel" else f"{self.kind}({target})"


@dataclasses.dataclass(frozen=True)
class Combination:
    """A weighted sum of distinct terms: sum of weights[i] * terms[i]."""

    terms: tuple[Term, ...]
    weights: tuple[float, ...]

    def __str__(self) -> str:
        return format_sum(zip(self.weights, map(str, self.terms)))


def format_sum(weighted) -> str:
    """Terms' texts with their weights as a sum: [(1, "a:1"), (-0.5, "b:2")] -> "a:1 - 0.5*b:2"."""
    text = ""
    for weight, term in weighted:
        size = abs(weight)
        shown = term if size == 1 else f"{size:g}*{term}"
        if not text:
            text = f"-{shown}" if weight < 0 else shown
        else:
            text += f" {'-' if weight < 0 else '+'} {shown}"
    return text


@dataclasses.dataclass(frozen=True)
class Expression:
    """A parsed objective: `start`, and for an interpolation the `end` it runs to (else None)."""

    start: Combination
    end: Combination | None = None

    def __str__(self) -> str:
        return str(self.start) if self.end is None else f"{self.start} -> {self.end}"

    @property
    def terms(self) -> tuple[Term, ...]:
        """Every distinct term of both ends, in order of appearance."""
        ends = (self.start,) if self.end is None else (self.start, self.end)
        return tuple(dict.fromkeys(term for end in ends for term in end.terms))


@dataclasses.dataclass(frozen=True)
class _Token:
    kind: str  # number, name, symbol, class (the raw text inside class(...)), end
    text: str
    position: int


class _Linear:
    """A value while parsing: {term: weight} plus a plain number (a number alone, or a scale factor)."""

    def __init__(self, weights: dict | None = None, number: float = 0.0):
        self.weights = weights or {}
        self.number = number

    def added(self, other: _Linear, sign: float) -> _Linear:
        weights = dict(self.weights)
        for term, weight in other.weights.items():
            weights[term] = weights.get(term, 0.0) + sign * weight
        return _Linear(weights, self.number + sign * other.number)

    def scaled(self, factor: float) -> _Linear:
        return _Linear({term: weight * factor for term, weight in self.weights.items()}, self.number * factor)


def parse_expression(text: str) -> Expression:
    """Parse an objective expression (see the module's grammar); ValueError pointing at the bad token."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"an objective expression must be text such as 'fire5:7 + fire5:12', got {text!r}")
    return _Parser(text).figure()


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0

    def error(self, token: _Token, message: str) -> ValueError:
        return expression_error(self.text, token.position, message)

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self, kind: str | None = None, text: str | None = None, expected: str = "") -> _Token:
        token = self.peek()
        if (kind and token.kind != kind) or (text and token.text != text):
            found = "the end" if token.kind == "end" else repr(token.text)
            raise self.error(token, f"expected {expected or repr(text)}, found {found}")
        self.at += 1
        return token

    def figure(self) -> Expression:
        start = self.combination(self.sum())
        end = None
        if self.peek().text == "->":
            self.take()
            end = self.combination(self.sum())
        token = self.peek()
        if token.kind != "end":
            raise self.error(token, f"unexpected {token.text!r}" + (" (only one '->' is allowed)"
                                                                  if token.text == "->" else ""))
        return Expression(start, end)

    def combination(self, value: _Linear) -> Combination:
        token = self.tokens[self.at - 1] if self.at else self.peek()
        if value.number:
            raise self.error(token, "a number on its own adds nothing to optimise: multiply a term by it")
        kept = {term: weight for term, weight in value.weights.items() if weight != 0}
        if not kept:
            raise self.error(token, "the objective has no term left to optimise")
        return Combination(tuple(kept), tuple(float(weight) for weight in kept.values()))

    def sum(self) -> _Linear:
        sign = 1.0
        if self.peek().text in ("+", "-"):
            sign = -1.0 if self.take().text == "-" else 1.0
        value = self.product().scaled(sign)
        while self.peek().text in ("+", "-"):
            operator = self.take()
            value = value.added(self.product(), -1.0 if operator.text == "-" else 1.0)
        return value

    def product(self) -> _Linear:
        value = self.factor()
        while self.peek().text in ("*", "/"):
            operator = self.take()
            other = self.factor()
            if operator.text == "/":
                if other.weights or other.number == 0:
                    raise self.error(operator, "objectives can only be divided by a number other than 0")
                value = value.scaled(1.0 / other.number)
            elif value.weights and other.weights:
                raise self.error(operator, "objectives are scaled by numbers, not multiplied together")
            else:
                value = other.scaled(value.number) if not value.weights else value.scaled(other.number)
        return value

    def factor(self) -> _Linear:
        token = self.peek()
        if token.kind == "number":
            self.take()
            return _Linear(number=float(token.text))
        if token.text == "(":
            self.take()
            value = self.sum()
            self.take("symbol", ")", "')'")
            return value
        if token.kind == "name":
            return _Linear({self.term(): 1.0})
        found = "the end" if token.kind == "end" else repr(token.text)
        raise self.error(token, f"expected a term such as fire5:7, a number or '(', found {found}")

    def term(self) -> Term:
        name = self.take("name")
        if self.peek().text == "(" and name.text in TERM_KINDS:
            self.take()
            term = self.function_term(name)
            self.take("symbol", ")", "')'")
            return term
        if name.text in TERM_KINDS and self.peek().text != ":":
            raise self.error(self.peek(), f"expected '(' after {name.text}, as in {_example(name.text)}")
        return Term("channel", name.text, self.index())

    def function_term(self, kind: _Token) -> Term:
        if kind.text == "class":
            argument = self.take("class", expected="a class name or index")
            try:
                return Term("class", "", class_index(argument.text))
            except ValueError as error:
                raise self.error(argument, str(error)) from None
        layer = self.take("name", expected="a layer name")
        if kind.text == "layer":
            return Term("layer", layer.text)
        return Term(kind.text, layer.text, self.index())

    def index(self) -> int:
        self.take("symbol", ":", "':' and a filter index after the layer name")
        token = self.take("number", expected="a filter index")
        if not token.text.isdigit():
            raise self.error(token, f"a filter index is a whole number >= 0, not {token.text}")
        return int(token.text)


def _example(kind: str) -> str:
    return {"class": "class(goldfish)", "layer": "layer(fire5)"}.get(kind, f"{kind}(fire5:7)")


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match:
            start = len(text) - len(text[position:].lstrip())
            raise expression_error(text, start, f"unexpected character {text[start]!r}")
        kind = match.lastgroup
        tokens.append(_Token(kind, match.group(kind), match.start(kind)))
        position = match.end()
        if kind == "symbol" and match.group(kind) == "(" and len(tokens) > 1 and tokens[-2].text == "class":
            argument, position = _class_argument(text, position)
            tokens.append(argument)
    tokens.append(_Token("end", "", len(text.rstrip())))
    return tokens


def _class_argument(text: str, position: int) -> tuple[_Token, int]:
    """The raw text inside class(...), up to its matching ')': class names may hold spaces, hyphens,
    apostrophes and parentheses ("crane (bird)")."""
    depth = 0
    for end in range(position, len(text)):
        if text[end] == "(":
            depth += 1
        elif text[end] == ")":
            if depth == 0:
                raw = text[position:end]
                start = position + len(raw) - len(raw.lstrip())
                return _Token("class", raw.strip(), start), end
            depth -= 1
    raise expression_error(text, position - 1, "this '(' is never closed")


def expression_error(text: str, position: int, message: str) -> ValueError:
    """A ValueError quoting the expression with a caret under `position`."""
    return ValueError(f"objective expression, at character {position + 1}: {message}\n  {text}\n"
                      f"  {' ' * position}^")
