"""Checked reading of configs that come from outside: checkpoint headers and training configs.

A schema is a tree of small checkers, each of which can say what it accepts, so a refusal is
one line naming the dotted key, the allowed range and the value ("trainer.max_steps must be an
integer >= 1, got 'abc'"). Sizes carry upper bounds because a config's numbers decide how much
memory the model built from it takes. :class:`Int` and :class:`Float` are the project's one
number check: the inference knobs' ranges (:data:`tts_ebm.sampling.KNOBS`) are specs too.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Protocol


class SchemaError(ValueError):
    """A value outside its schema; the message names its dotted key."""


class Spec(Protocol):
    def describe(self) -> str: ...

    def accepts(self, value: Any) -> bool: ...

    def check(self, value: Any, key: str) -> None: ...


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


class _Leaf:
    """A scalar spec: ``check`` refuses whatever ``accepts`` does not."""

    def describe(self) -> str:
        raise NotImplementedError

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def check(self, value: Any, key: str) -> None:
        if not self.accepts(value):
            raise SchemaError(f"{key} must be {self.describe()}, got {_shown(value)}")


@dataclass(frozen=True)
class _Number(_Leaf):
    """A number in [low, high], or (low, high] with ``low_open``; a None bound is no bound.

    The one number check of the project (CLI flags, API keywords, checkpoint headers and
    training configs alike). A value of the wrong kind is refused with the kind and the range
    ("steps must be an integer >= 0 and <= 10000, got 2.5"), one of the right kind with the
    range alone ("temperature must be >= 0 and <= 10, got nan"). NaN fails every comparison, so
    the test asks for a value inside the range, never for one outside it.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def is_kind(self, value: Any) -> bool:
        raise NotImplementedError

    def is_inside(self, value: Any) -> bool:
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        return above and (self.high is None or value <= self.high)

    def bounds(self, after_noun: bool = True) -> str:
        """The range as text, e.g. '>= 0 and <= 10'; alone (not ``after_noun``), '> 0' reads
        'positive'."""
        parts = []
        if self.low is not None:
            positive = self.low_open and self.low == 0 and not after_noun
            operator = ">" if self.low_open else ">="
            parts.append("positive" if positive else f"{operator} {_number(self.low)}")
        if self.high is not None:
            parts.append(f"<= {_number(self.high)}")
        return " and ".join(parts)

    def accepts(self, value: Any) -> bool:
        return self.is_kind(value) and self.is_inside(value)

    def check(self, value: Any, key: str) -> None:
        if self.is_kind(value) and not self.is_inside(value):
            raise SchemaError(f"{key} must be {self.bounds(after_noun=False)}, got {_shown(value)}")
        super().check(value, key)


@dataclass(frozen=True)
class Int(_Number):
    """An integer (numpy's too, never a bool); ``odd`` asks for an odd one."""

    odd: bool = False

    def describe(self) -> str:
        return f"{'an odd integer' if self.odd else 'an integer'} {self.bounds()}".rstrip()

    def is_kind(self, value: Any) -> bool:
        integer = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        return integer and (not self.odd or value % 2 == 1)


@dataclass(frozen=True)
class Float(_Number):
    """A finite number (ints and numpy scalars accepted, bools not)."""

    def describe(self) -> str:
        return f"a finite number {self.bounds()}".rstrip()

    def is_kind(self, value: Any) -> bool:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)

    def is_inside(self, value: Any) -> bool:
        # An int is always finite, and math.isfinite(10**400) would overflow.
        finite = isinstance(value, numbers.Integral) or math.isfinite(value)
        return finite and super().is_inside(value)

    def bounds(self, after_noun: bool = True) -> str:
        """Alone, an unbounded top reads 'finite' (e.g. '>= 0 and finite')."""
        text = super().bounds(after_noun)
        if after_noun or self.high is not None:
            return text
        return f"{text} and finite" if text else "finite"


@dataclass(frozen=True)
class Str(_Leaf):
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return "a non-empty string"

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, str) or not value:
            return False
        return not self.choices or value in self.choices


@dataclass(frozen=True)
class Bool(_Leaf):
    def describe(self) -> str:
        return "true or false"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)


@dataclass(frozen=True)
class ListOf:
    item: Spec
    min_len: int = 0
    max_len: int = 10_000

    def describe(self) -> str:
        count = (
            str(self.min_len)
            if self.min_len == self.max_len
            else f"{self.min_len} to {self.max_len}"
        )
        return f"a list of {count} items, each {self.item.describe()}"

    def accepts(self, value: Any) -> bool:
        return (
            isinstance(value, list | tuple)
            and self.min_len <= len(value) <= self.max_len
            and all(self.item.accepts(v) for v in value)
        )

    def check(self, value: Any, key: str) -> None:
        if not isinstance(value, list | tuple) or not self.min_len <= len(value) <= self.max_len:
            raise SchemaError(f"{key} must be {self.describe()}, got {_shown(value)}")
        for index, item in enumerate(value):
            self.item.check(item, f"{key}[{index}]")


@dataclass(frozen=True)
class AnyOf(_Leaf):
    """The first alternative that accepts the value wins (e.g. a number or a list of them)."""

    options: tuple[Spec, ...]

    def describe(self) -> str:
        return " or ".join(o.describe() for o in self.options)

    def accepts(self, value: Any) -> bool:
        return any(o.accepts(value) for o in self.options)


@dataclass(frozen=True)
class Null(_Leaf):
    def describe(self) -> str:
        return "null"

    def accepts(self, value: Any) -> bool:
        return value is None


def optional(spec: Spec) -> AnyOf:
    """``spec`` or null (YAML ``null``, JSON ``null``)."""
    return AnyOf((spec, Null()))


@dataclass(frozen=True)
class Record:
    """A mapping of named fields. ``closed`` refuses keys the schema does not name (use it
    where the mapping becomes keyword arguments); ``required`` are the keys that must be there.
    """

    fields: Mapping[str, Spec]
    required: frozenset[str] = field(default_factory=frozenset)
    closed: bool = True

    def describe(self) -> str:
        return "a mapping"

    def accepts(self, value: Any) -> bool:
        try:
            self.check(value, "")
        except SchemaError:
            return False
        return True

    def check(self, value: Any, key: str) -> None:
        if not isinstance(value, Mapping):
            raise SchemaError(f"{key or 'the top level'} must be a mapping, got {_shown(value)}")
        missing = sorted(self.required - set(value))
        if missing:
            raise SchemaError(f"{_join(key, missing[0])} is missing")
        unknown = sorted(repr(k) for k in value if k not in self.fields)
        if self.closed and unknown:
            raise SchemaError(
                f"{key or 'the top level'} has an unknown key {unknown[0]}; "
                f"known: {', '.join(self.fields)}"
            )
        for name, spec in self.fields.items():
            if name in value:
                spec.check(value[name], _join(key, name))

    def relaxed(self, *names: str) -> Record:
        """The same record with ``names`` no longer required (filled in later, e.g.)."""
        return Record(self.fields, self.required - set(names), self.closed)


def required_fields(cls: type) -> frozenset[str]:
    """The fields of dataclass ``cls`` that have no default: a record of it must hold them."""
    return frozenset(
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
    )
