"""The reader's speed paths give what the plain reading gives.

A big log is read the fast way (parsing/reader.py: only the lines the analysis asks for go
through the grammar); a small one is parsed whole. The reader also answers some questions
from a line's characters instead of its parse (`_last_has_state_after`: no ';', no inline
state) and takes the verifier's precision lines without classifying them. Over every
recorded log: both ways give the same explain object (but for the unrecognised lines only the
whole parse reports), each cheap answer is the parse's, each line (and the same line
without its indent) is taken for what classify() says it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier_doctor.analysis import diagnose
from verifier_doctor.parsing import reader
from verifier_doctor.render.json_out import diagnosis_to_dict

ROOT = Path(__file__).resolve().parent.parent
LOGS = sorted((ROOT / "fixtures").rglob("*.log"))


def explained(text: str, eager_bytes: int, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    monkeypatch.setattr(reader, "EAGER_BYTES", eager_bytes)
    objects = [diagnosis_to_dict(diagnose(trace)) for trace in reader.read_log(text).programs]
    for obj in objects:
        obj["log"]["unparsed_lines"] = []  # reported by the whole parse only
        obj["caveats"] = [c for c in obj["caveats"] if "not recognised" not in c]
    return objects


def checked_answers(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every answer of the reader's `_last_has_state_after`, each checked against the
    model's own `has_state_after`, which parses the line."""
    answers = []
    cheap = reader._TraceBuilder._last_has_state_after

    def checked(builder) -> bool:
        answer = cheap(builder)
        assert answer == builder.steps[-1].has_state_after, builder.steps[-1]
        answers.append(answer)
        return answer

    monkeypatch.setattr(reader._TraceBuilder, "_last_has_state_after", checked)
    return answers


def test_the_fixtures_hold_both_answers(monkeypatch: pytest.MonkeyPatch):
    # Level-2 logs print "N: R5=593" after a jump: the cheap answer is asked there.
    answers = checked_answers(monkeypatch)
    for log in LOGS:
        if ".L2." in log.name:
            reader.read_log(log.read_text(errors="replace"))
    assert True in answers and False in answers


def kind_taken(line: str) -> reader.LineKind | None:
    """The kind a fresh builder takes a line for (the kind it remembers as the previous
    line's), None where it remembers none (a blank line, a listing's header)."""
    builder = reader._TraceBuilder(None, eager=False)
    builder.add(1, line)
    return None if builder.listing else builder.previous_kind


@pytest.mark.parametrize("log", LOGS, ids=lambda p: str(p.relative_to(ROOT / "fixtures")))
def test_a_log_read_lazily_is_explained_as_read_whole(log: Path, monkeypatch: pytest.MonkeyPatch):
    checked_answers(monkeypatch)
    text = log.read_text(errors="replace")
    # Each line, and the same without its indent (as some loaders print it), is taken for
    # what classify() says it is, also where the builder does not ask classify().
    for line in {variant for line in text.splitlines() for variant in (line, line.lstrip())}:
        kind = reader.classify(line)
        glued = kind is reader.LineKind.MESSAGE and reader._glued_trailer(line.strip())  # read as two lines
        if kind is not reader.LineKind.BLANK and not glued:
            assert kind_taken(line) in (kind, None), line
    try:
        whole = explained(text, len(text) + 1, monkeypatch)
    except reader.NotAVerifierLog as error:
        with pytest.raises(reader.NotAVerifierLog) as lazily:
            explained(text, 0, monkeypatch)
        assert str(lazily.value) == str(error)
        return
    assert explained(text, 0, monkeypatch) == whole
