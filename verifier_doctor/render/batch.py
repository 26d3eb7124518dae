"""Many inputs in one run (`explain LOG...`, `try PROG...`): a table of every program, like
veristat's, then each distinct diagnosis once with the programs it covers; JSON as an array
or JSON Lines.

An input that gives no diagnosis (not a log, does not compile) is a row with its one
sentence instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..analysis.diagnosis import Diagnosis
from .screen import Screen


@dataclass(frozen=True, slots=True)
class Examined:
    """One program of one input, or (diagnosis None) an input that gave none and why."""

    input: str
    diagnosis: Diagnosis | None
    trace: Any = None  # what the HTML page draws (the trace or its path view), when kept
    seconds: float | None = None  # what vdoctor spent on the input (on its first program's row)
    failure: str | None = None  # the sentence, when the input gave no diagnosis
    status: int = 0  # the exit status this row alone would give

    @property
    def name(self) -> str:
        program = self.diagnosis.program if self.diagnosis is not None else None
        return f"{self.input}:{program}" if program else self.input


def same_diagnosis(diagnosis: Diagnosis) -> tuple:
    """What two programs share when their diagnoses are the same (the program's name aside):
    the verdict, the class, the message and where, and the culprit."""
    error, culprit = diagnosis.error, diagnosis.culprit
    where = None if error is None else (error.error_class, error.message, error.insn, error.insn_text,
                                        error.source and (error.source.file, error.source.line, error.source.text))
    blamed = None if culprit is None else (culprit.insn, culprit.insn_text, culprit.note)
    return (diagnosis.verdict, where, blamed, diagnosis.explanation, tuple(diagnosis.suggestions))


def distinct(diagnoses: list[tuple[str, Diagnosis]]) -> list[tuple[Diagnosis, list[str]]]:
    """Each distinct diagnosis once (the first met), with the names of the programs it covers."""
    groups: dict[tuple, tuple[Diagnosis, list[str]]] = {}
    for name, diagnosis in diagnoses:
        groups.setdefault(same_diagnosis(diagnosis), (diagnosis, []))[1].append(name)
    return list(groups.values())


def once_each(diagnoses: list[Diagnosis]) -> list[tuple[Diagnosis, list[str]]]:
    """The diagnoses in their order, each rejection that repeats an earlier one left out and
    its program named under that one (an object whose 17 programs share one bug: one
    diagnosis, not 17)."""
    out: list[tuple[Diagnosis, list[str]]] = []
    first: dict[tuple, list[str]] = {}
    for diagnosis in diagnoses:
        if diagnosis.verdict != "rejected":
            out.append((diagnosis, []))
            continue
        key = same_diagnosis(diagnosis)
        if key in first:
            first[key].append(diagnosis.program or "program")
            continue
        first[key] = []
        out.append((diagnosis, first[key]))
    return out


def render_also(others: list[str], screen: Screen) -> None:
    """The programs a diagnosis also covers, under it."""
    if others:
        screen.labelled([(("  also", "bold"), f"the same diagnosis for {', '.join(others)}")], label_width=10)


def _where(diagnosis: Diagnosis) -> str:
    source = diagnosis.error.source if diagnosis.error is not None else None
    if source is None or source.line is None:
        return "-"
    return f"{source.file or '?'}:{source.line}"


def _cells(row: Examined) -> tuple[str, ...]:
    took = f"{row.seconds * 1000:.0f} ms" if row.seconds is not None else ""
    diagnosis = row.diagnosis
    if diagnosis is None:
        return (row.name, "error", "-", "-", "-", "-", took)
    stats = diagnosis.stats
    insns = str(stats.processed_insns) if stats is not None else "-"
    states = stats.counter("total_states") if stats is not None else None
    error_class = diagnosis.error.error_class if diagnosis.error is not None else "-"
    return (row.name, diagnosis.verdict, error_class, _where(diagnosis), insns,
            "-" if states is None else str(states), took)


HEADER = ("program", "verdict", "class", "file:line", "insns", "states", "time")


def render_batch(rows: list[Examined], screen: Screen,
                 program_sources: dict[str, tuple[Path | None, list[str] | None]]) -> None:
    """The table, then each distinct rejection once (as `explain` of one log prints it),
    then each input's failure sentence."""
    from .text import render_text

    screen.columns([HEADER, *map(_cells, rows)])
    rejected = [(row.name, row.diagnosis) for row in rows
                if row.diagnosis is not None and row.diagnosis.verdict != "accepted"]
    first_input = {row.name: row.input for row in rows}
    for diagnosis, names in distinct(rejected):
        screen.print()
        screen.print(f"== {', '.join(names)} ==", style="bold")
        source_path, program_source = program_sources.get(first_input[names[0]], (None, None))
        render_text(diagnosis, screen, program_source, source_path)
    for row in rows:
        if row.failure is not None:
            screen.print()
            screen.print(f"== {row.input} ==", style="bold")
            screen.print(row.failure)


def batch_objects(rows: list[Examined],
                  program_sources: dict[str, tuple[Path | None, list[str] | None]]) -> list[dict[str, Any]]:
    """One JSON object per row: the explain object of CLI.md with "input" added, or the
    input's failure (verdict "error")."""
    from .json_out import diagnosis_to_dict, with_program_lines

    out = []
    for row in rows:
        if row.diagnosis is None:
            out.append({"input": row.input, "verdict": "error", "program": None,
                        "error": {"message": row.failure, "class": None}, "culprit": None, "stats": None})
            continue
        source_path, program_source = program_sources.get(row.input, (None, None))
        out.append(with_program_lines({"input": row.input, **diagnosis_to_dict(row.diagnosis)},
                                      program_source, source_path))
    return out


def batch_json(rows: list[Examined], lines: bool,
               program_sources: dict[str, tuple[Path | None, list[str] | None]]) -> str:
    objects = batch_objects(rows, program_sources)
    if lines:
        return "".join(json.dumps(obj) + "\n" for obj in objects)
    return json.dumps(objects, indent=2) + "\n"
