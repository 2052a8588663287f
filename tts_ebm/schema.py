"""Checked reading of configs that come from outside: checkpoint headers and training configs.

A schema is a tree of small checkers, each of which can say what it accepts, so a refusal is
one line naming the dotted key, the allowed range and the value ("trainer.max_steps must be an
integer >= 1, got 'abc'"). Sizes carry upper bounds because a config's numbers decide how much
memory the model built from it takes.
"""

from __future__ import annotations

import math
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


def _range(low: float | None, high: float | None, low_open: bool = False) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{_number(low)}, {_number(high)}]"
    if low is not None:
        return f"{'>' if low_open else '>='} {_number(low)}"
    return f"<= {_number(high)}" if high is not None else ""


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
class Int(_Leaf):
    low: int | None = None
    high: int | None = None
    odd: bool = False

    def describe(self) -> str:
        kind = "an odd integer" if self.odd else "an integer"
        return f"{kind} {_range(self.low, self.high)}".rstrip()

    def accepts(self, value: Any) -> bool:
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and (self.low is None or value >= self.low)
            and (self.high is None or value <= self.high)
            and (not self.odd or value % 2 == 1)
        )


@dataclass(frozen=True)
class Float(_Leaf):
    """A finite number (ints accepted); ``low_open`` excludes ``low`` itself."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def describe(self) -> str:
        return f"a finite number {_range(self.low, self.high, self.low_open)}".rstrip()

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        if not math.isfinite(value):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        return above and (self.high is None or value <= self.high)


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
