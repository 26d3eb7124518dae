"""Records (verifier_doctor/record.py) behave as the dataclasses they replace.

For classes of every shape Hypothesis draws (fields with and without defaults, default
factories, fields left out of comparison or repr, frozen or not), a record and a dataclass
declared alike agree on construction, repr, equality, hashing, replace and assignment.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier_doctor import record as records


@st.composite
def shapes(draw):
    """A class's fields: (name, kind, compare, repr) with kind 'plain', 'default' or
    'factory' (defaults after the plain ones, as both require)."""
    count = draw(st.integers(0, 6))
    plain = draw(st.integers(0, count))
    fields = []
    for index in range(count):
        kind = "plain" if index < plain else draw(st.sampled_from(["default", "factory"]))
        fields.append((f"f{index}", kind, draw(st.booleans()), draw(st.booleans())))
    return fields, draw(st.booleans())


def declare(fields, frozen, use_record):
    namespace = {"__annotations__": {name: "object" for name, *_ in fields}}
    module_field = records.field if use_record else dataclasses.field
    for name, kind, compare, shown in fields:
        if kind == "default":
            namespace[name] = module_field(default=name.upper(), compare=compare, repr=shown)
        elif kind == "factory":
            namespace[name] = module_field(default_factory=tuple, compare=compare, repr=shown)
        elif not (compare and shown):
            namespace[name] = module_field(compare=compare, repr=shown)
    cls = type("Shape", (), namespace)
    return records.record(frozen=frozen)(cls) if use_record else dataclasses.dataclass(frozen=frozen)(cls)


values = st.one_of(st.integers(), st.text(max_size=5), st.tuples(st.integers()))


@settings(max_examples=150, deadline=None)
@given(shapes(), st.data())
def test_a_record_does_what_a_dataclass_does(shape, data):
    fields, frozen = shape
    ours, theirs = declare(fields, frozen, True), declare(fields, frozen, False)
    given_args = [data.draw(values) for name, kind, *_ in fields if kind == "plain"]
    a, b = ours(*given_args), theirs(*given_args)
    assert repr(a) == repr(b)
    assert [getattr(a, name) for name, *_ in fields] == [getattr(b, name) for name, *_ in fields]
    assert (a == ours(*given_args)) == (b == theirs(*given_args))
    if frozen:
        assert hash(a) == hash(ours(*given_args))
        with pytest.raises(AttributeError):
            a.f0 = 1
    else:
        assert ours.__hash__ is None and theirs.__hash__ is None
    for name, kind, compare, _ in fields:
        changed = data.draw(values)
        a2, b2 = records.replace(a, **{name: changed}), dataclasses.replace(b, **{name: changed})
        assert repr(a2) == repr(b2)
        assert (a2 == a) == (b2 == b)


def test_post_init_runs_and_bad_declarations_fail_as_dataclasses_do():
    seen = []

    @records.record
    class Checked:
        text: str

        def __post_init__(self):
            seen.append(self.text)

    Checked("x")
    assert seen == ["x"]
    with pytest.raises(TypeError):
        records.record(type("Bad", (), {"__annotations__": {"a": "int", "b": "int"}, "a": 1}))
    with pytest.raises(ValueError):
        records.record(type("Bad", (), {"__annotations__": {"a": "list"}, "a": []}))
    with pytest.raises(TypeError):
        records.replace(Checked("y"), other=1)


def test_compiled_methods_are_kept_for_the_next_run(tmp_path):
    """The first run compiles a record's methods and keeps them; the next one loads them."""
    probe = ("import verifier_doctor.record as r, verifier_doctor.model;"
             "print(r._added, len(r._codes))")
    env = {"VDOCTOR_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin"}
    first = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    second = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert first.stdout.split()[0] == "True" and int(first.stdout.split()[1]) >= 10
    assert second.stdout.split() == ["False", first.stdout.split()[1]]
    assert len(list(tmp_path.glob("records-*.marshal"))) == 1
