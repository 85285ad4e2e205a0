"""Building instances of the frozen models on the per-message path, five times faster than their constructor.

The models are frozen slots dataclasses (STYLE.md G8). CPython 3.11's dataclasses give a frozen class an `__init__`
that stores each field with `object.__setattr__(self, name, value)`, because the class's own `__setattr__` refuses
every store: about 0.25 us a field against 0.03 us for a plain `self.name = value`, which the interpreter can
specialise. Measured on the AMD EPYC machine of the benchmarks: a 21-field frozen slots dataclass takes 5.9 us to
construct, the same class unfrozen 0.6 us. `SipMessage` (21 fields), `Datagram` (12), `Transaction` (21),
`SdpMedia` (22) and `Call` (35) are built once or more for every SIP message of a capture: together about a
tenth of the main process's SIP loop (a sampling profile of a capture of 3000 short calls).

`quick_builder(cls)` returns a builder for `cls`: a class with the same `__slots__` whose `__init__` stores the
fields with plain assignments and then turns the instance into a `cls` (`self.__class__ = cls`: allowed between
two classes whose instances have the same layout, Python reference "Data model", object.__class__). What it returns
*is* a `cls`, frozen, equal to and hashing like one made by `cls(...)`, pickled the same way.

Differences from calling `cls(...)`, on purpose:

- the builder takes every field, `init=False` ones included (by position in field order, or by name), and a field
  that has a default or a default factory may be left out;
- `__post_init__` is not run: a class that has one is built with the values it would have computed (`Headers`
  takes its first-value map; a test compares both ways for every class that has a builder).

Where the `__class__` store is refused (another Python, or a class that is not a plain slots dataclass), the
builder falls back to `object.__setattr__`, the dataclass's own way: the same objects, at the old speed.
"""

from __future__ import annotations

from dataclasses import MISSING, fields, is_dataclass
from typing import Any, Callable, TypeVar

T = TypeVar("T")

_NO_VALUE = object()  # a field left out of the call: take its default factory


def quick_builder(cls: type[T]) -> Callable[..., T]:
    """A fast builder of the frozen slots dataclass `cls` (see the module's text)."""
    if not is_dataclass(cls) or not isinstance(cls, type):
        raise TypeError(f"{cls!r} is not a dataclass")
    names = [f.name for f in fields(cls)]
    slots = cls.__dict__.get("__slots__")
    if slots is None or sorted(slots) != sorted(names) or cls.__bases__ != (object,):
        # a base with its own slots or a __dict__ would make the two layouts differ
        raise TypeError(f"{cls.__name__} is not a slots dataclass of its own fields")
    if {"self", "_cls", "_NO_VALUE"} & set(names) or any(n.startswith(("_default_", "_factory_")) for n in names):
        return _slow_builder(cls)  # a field named like the generated code's own names
    env: dict[str, Any] = {"_cls": cls, "_NO_VALUE": _NO_VALUE}
    params, lines = [], []
    for f in fields(cls):
        name = f.name
        if f.default is not MISSING:
            env[f"_default_{name}"] = f.default
            params.append(f"{name}=_default_{name}")
            lines.append(f"    self.{name} = {name}")
        elif f.default_factory is not MISSING:
            env[f"_factory_{name}"] = f.default_factory
            params.append(f"{name}=_NO_VALUE")
            lines.append(f"    self.{name} = _factory_{name}() if {name} is _NO_VALUE else {name}")
        else:
            params.append(name)
            lines.append(f"    self.{name} = {name}")
    # Field names are identifiers (dataclasses checked them): the generated text holds nothing else from outside.
    source = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(lines) + "\n    self.__class__ = _cls\n"
    exec(source, env)  # noqa: S102 - the way dataclasses itself makes __init__; see the comment above
    builder = type(f"_Quick{cls.__name__}", (), {"__slots__": tuple(slots), "__init__": env["__init__"],
                                                 "__module__": cls.__module__})
    try:
        probe = builder(*[None] * len(names))
    except TypeError:  # "object layout differs": build them the dataclass's way
        return _slow_builder(cls)
    if type(probe) is not cls:
        return _slow_builder(cls)
    return builder  # type: ignore[return-value]


def _slow_builder(cls: type[T]) -> Callable[..., T]:
    names = [f.name for f in fields(cls)]

    def build(*args: Any, **kwargs: Any) -> T:
        values = _bind(cls, args, kwargs)
        obj = object.__new__(cls)
        for name in names:
            object.__setattr__(obj, name, values[name])
        return obj

    return build


def _bind(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The value of every field of `cls` from a builder call: positional in field order, then by name, then
    defaults and default factories."""
    values: dict[str, Any] = {}
    all_fields = fields(cls)
    if len(args) > len(all_fields):
        raise TypeError(f"{cls.__name__} builder takes {len(all_fields)} values, {len(args)} given")
    for f, value in zip(all_fields, args):
        values[f.name] = value
    for name, value in kwargs.items():
        if name in values or name not in {f.name for f in all_fields}:
            raise TypeError(f"{cls.__name__} builder: unexpected or repeated value {name!r}")
        values[name] = value
    for f in all_fields:
        if f.name in values:
            continue
        if f.default is not MISSING:
            values[f.name] = f.default
        elif f.default_factory is not MISSING:
            values[f.name] = f.default_factory()
        else:
            raise TypeError(f"{cls.__name__} builder: missing value {f.name!r}")
    return values
