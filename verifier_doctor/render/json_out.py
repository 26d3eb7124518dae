"""The JSON object of CLI.md: keys there are a contract; extra keys may be added."""

from __future__ import annotations

from dataclasses import asdict

from pathlib import Path
from typing import Any

from ..analysis.diagnosis import Diagnosis
from ..model import KernelDiagnosis, KernelPlace, SourceLine, Stats
from .text import line_in_source, source_file


def _source(source: SourceLine | None) -> dict[str, Any] | None:
    if source is None:
        return None
    return {"file": source.file, "line": source.line, "text": source.text}


def _stats(stats: Stats | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    out: dict[str, Any] = {
        "processed_insns": stats.processed_insns,
        "total_states": stats.counter("total_states"),
        "peak_states": stats.counter("peak_states"),
    }
    out["insn_limit"] = stats.insn_limit
    for name, value in stats.counters:
        out.setdefault(name, value)
    return out


def _place(place: KernelPlace | None) -> dict[str, Any] | None:
    if place is None:
        return None
    return {"function": place.function, "file": place.file, "line": place.line, "column": place.column,
            "source": place.source, "insn": place.insn, "insn_text": place.insn_text, "note": place.note}


def _kernel_diagnosis(kernel: KernelDiagnosis | None) -> dict[str, Any] | None:
    """v7.3's own diagnosis, as the kernel printed it."""
    if kernel is None:
        return None
    return {
        "verdict": kernel.verdict,
        "reason": kernel.reason,
        "at": _place(kernel.at),
        "causal_path": [_place(p) for p in kernel.causal_path],
        "suggestion": kernel.suggestion,
    }


def _fix_site(diagnosis: Diagnosis) -> dict[str, Any] | None:
    """Where the change goes (CLI.md "Where to fix"), beside the culprit."""
    site = diagnosis.fix_site
    if site is None:
        return None
    return {"insn": site.insn, "source": _source(site.source), "action": site.action}


def diagnosis_to_dict(diagnosis: Diagnosis) -> dict[str, Any]:
    error = diagnosis.error
    culprit = diagnosis.culprit
    out = {
        "verdict": diagnosis.verdict,
        "program": diagnosis.program,
        "error": None if error is None else {
            "message": error.message,
            "insn": error.insn,
            "class": error.error_class,
            "register": error.register,
            "insn_text": error.insn_text,
            "source": _source(error.source),
            "details": list(error.details),
            # A load refused before the verifier, typed (model.LoadFailure): kind, subject, and
            # for a refused map its type, max_entries, errno and libbpf's probe of the type.
            **({"load_failure": asdict(error.load_failure)} if error.load_failure is not None else {}),
        },
        "culprit": None if culprit is None else {
            "register": culprit.location,
            "insn": culprit.insn,
            "source": _source(culprit.source),
            "insn_text": culprit.insn_text,
            "origin": culprit.origin.name.lower(),
            "detail": culprit.detail,
            "note": culprit.note,
        },
        "fix_site": _fix_site(diagnosis),
        "confidence": diagnosis.judgement.confidence if diagnosis.judgement else None,
        "kind": diagnosis.judgement.kind if diagnosis.judgement else None,
        "history": [
            {"insn": item.insn, "text": item.text, "location": item.location, "value": item.value,
             "note": item.note, "source": _source(item.source)}
            for item in diagnosis.history
        ],
        "explanation": diagnosis.explanation,
        "suggestions": list(diagnosis.suggestions),
        "stats": _stats(diagnosis.stats),
        "log": {
            "format": diagnosis.log_format.value,
            "level": diagnosis.log_level,
            "unparsed_lines": [{"line": n, "text": t} for n, t in diagnosis.unparsed],
        },
        "caveats": list(diagnosis.caveats),
        "kernel_diagnosis": _kernel_diagnosis(diagnosis.kernel_diagnosis),
    }
    if diagnosis.profile is not None:
        from .profile import profile_to_dict

        out["profile"] = profile_to_dict(diagnosis.profile)
    return out


def run_to_dict(result) -> dict[str, Any]:
    """A BPF_PROG_TEST_RUN result (kernel.runner.RunResult)."""
    return {
        "retval": result.retval,
        "repeat": result.repeat,
        "duration_ns": result.duration_ns,
        "printed": list(result.printed),
    }


def with_program_lines(obj: Any, program_source: list[str] | None, source_path: Path | None) -> Any:
    """`obj` with every source object ({"file", "line", "text"}) also saying where the line
    is in the program, as text and SARIF show it: "program_file" and "program_line" (the
    log's number, else the one line of the program's text that reads so). "file" and "line"
    stay what the log printed (CLI.md)."""
    if isinstance(obj, list):
        return [with_program_lines(item, program_source, source_path) for item in obj]
    if not isinstance(obj, dict):
        return obj
    out = {key: with_program_lines(value, program_source, source_path) for key, value in obj.items()}
    if {"file", "line", "text"} <= out.keys() and isinstance(out["text"], str):
        source = SourceLine(out["text"], out["file"], out["line"])
        line = line_in_source(source, program_source)
        if line is not None:
            out["program_file"] = source_file(source, source_path)
            out["program_line"] = line
    return out
