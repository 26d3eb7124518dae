"""Records: the typed model's classes, declared as dataclasses are, made cheaper to create.

`@record` reads a class's annotated fields and gives it `__init__` (ending with
`__post_init__()` where the class has one), `__repr__`, `__eq__` and `__hash__`, and makes it
immutable (`@record(frozen=False)`: mutable, unhashable), with the meaning
`@dataclass(frozen=True)` gives them; `field()` and `replace()` work as dataclasses' do.
Why not dataclasses: on Python 3.11 each `@dataclass` compiles six small functions (~0.5 ms
a class, and `import dataclasses` pulls in `inspect`, ~10 ms), and `vdoctor explain` creates
some fifty classes before it reads a line. A record's methods are one piece of source per
class, compiled once and kept in the user's cache (cache.py) keyed by that source, so a later
run only loads them. tests/test_record.py holds records to what dataclasses do.
"""

from __future__ import annotations

import sys

_MISSING = object()


class FrozenRecordError(AttributeError):
    """An assignment to a field of an immutable record."""


class Field:
    """A field's options, as dataclasses.field takes them (default, default_factory, compare,
    hash, repr)."""

    __slots__ = ("default", "default_factory", "compare", "hash", "repr")

    def __init__(self, default=_MISSING, default_factory=_MISSING, compare=True, hash=None, repr=True):
        if default is not _MISSING and default_factory is not _MISSING:
            raise ValueError("a field cannot have both a default and a default_factory")
        self.default = default
        self.default_factory = default_factory
        self.compare = compare
        self.hash = compare if hash is None else hash
        self.repr = repr


def field(*, default=_MISSING, default_factory=_MISSING, compare=True, hash=None, repr=True) -> Field:
    return Field(default, default_factory, compare, hash, repr)


def replace(obj, /, **changes):
    """A copy of the record `obj` with the named fields changed."""
    names = obj.__record_fields__
    for name in changes:
        if name not in names:
            raise TypeError(f"{type(obj).__name__} has no field {name!r}")
    return obj.__class__(**{name: changes[name] if name in changes else getattr(obj, name) for name in names})


def record(cls=None, /, *, frozen: bool = True):
    """The class decorator (see the module's docstring)."""
    if cls is None:
        return lambda cls: _make(cls, frozen)
    return _make(cls, frozen)


def _is_class_var(annotation) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))


def _make(cls, frozen: bool):
    own = cls.__dict__
    specs: list[tuple[str, Field]] = []
    for name, annotation in own.get("__annotations__", {}).items():
        if _is_class_var(annotation):
            continue
        value = own.get(name, _MISSING)
        spec = value if isinstance(value, Field) else Field(default=value)
        if isinstance(spec.default, (list, dict, set)):
            raise ValueError(f"mutable default {type(spec.default).__name__} for field {name}: use default_factory")
        specs.append((name, spec))

    namespace: dict = {"_set": object.__setattr__, "_MISSING": _MISSING, "_Frozen": FrozenRecordError}
    params, body = ["self"], []
    seen_default = False
    for name, spec in specs:
        if spec.default_factory is not _MISSING:
            namespace[f"_f_{name}"] = spec.default_factory
            params.append(f"{name}=_MISSING")
            value = f"_f_{name}() if {name} is _MISSING else {name}"
            seen_default = True
        elif spec.default is not _MISSING:
            namespace[f"_d_{name}"] = spec.default
            params.append(f"{name}=_d_{name}")
            value = name
            seen_default = True
        else:
            if seen_default:
                raise TypeError(f"non-default argument {name!r} follows default argument")
            params.append(name)
            value = name
        body.append(f"    _set(self, {name!r}, {value})" if frozen else f"    self.{name} = {value}")

    shown = ", ".join(f"{name}={{self.{name}!r}}" for name, spec in specs if spec.repr)
    compared = "".join(f"self.{name}," for name, spec in specs if spec.compare)
    hashed = "".join(f"self.{name}," for name, spec in specs if spec.hash)
    if "__post_init__" in own:
        body.append("    self.__post_init__()")
    lines = [
        f"def __init__({', '.join(params)}):",
        *(body or ["    pass"]),
        "def __repr__(self):",
        f'    return f"{{self.__class__.__qualname__}}({shown})"',
        "def __eq__(self, other):",
        "    if other.__class__ is self.__class__:",
        f"        return ({compared}) == ({compared.replace('self.', 'other.')})",
        "    return NotImplemented",
    ]
    if frozen:
        lines += [
            "def __hash__(self):",
            f"    return hash(({hashed}))",
            "def __setattr__(self, name, value):",
            "    raise _Frozen(f'cannot assign to field {name!r}')",
            "def __delattr__(self, name):",
            "    raise _Frozen(f'cannot delete field {name!r}')",
        ]
    exec(_compiled("\n".join(lines) + "\n"), namespace)

    for method in ("__init__", "__repr__", "__eq__", "__setattr__", "__delattr__"):
        if method in namespace and method not in own:
            function = namespace[method]
            function.__qualname__ = f"{cls.__qualname__}.{method}"
            setattr(cls, method, function)
    # A class that defines __eq__ gets __hash__ = None from Python: that one is not its own.
    explicit_hash = "__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)
    if frozen and not explicit_hash:
        cls.__hash__ = namespace["__hash__"]
        cls.__hash__.__qualname__ = f"{cls.__qualname__}.__hash__"
    elif not frozen and not explicit_hash:
        cls.__hash__ = None  # mutable and compared by value: not hashable, as dataclasses
    for name, spec in specs:
        if spec.default is not _MISSING:
            setattr(cls, name, spec.default)
        elif name in own:
            delattr(cls, name)
    cls.__record_fields__ = tuple(name for name, _ in specs)
    cls.__match_args__ = cls.__record_fields__
    return cls


# The compiled methods of every record this installation has made, by source text.
_codes: dict | None = None
_added = False


# The key of a method is its source; only marshal's format depends on the Python.
_STAMP = sys.version


def _compiled(source: str):
    global _codes, _added
    if _codes is None:
        _codes = _load()
    code = _codes.get(source)
    if code is None:
        code = compile(source, "<record methods>", "exec")
        _codes[source] = code
        if not _added:
            import atexit

            atexit.register(_save)
        _added = True
    return code


def _load() -> dict:
    from .cache import load

    codes = load("records", _STAMP)
    return codes if isinstance(codes, dict) else {}


def _save() -> None:
    """Keeps this run's compiled methods, with those another run kept meanwhile."""
    from .cache import store

    store("records", _STAMP, {**_load(), **_codes})
