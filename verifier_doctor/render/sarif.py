"""SARIF 2.1.0 for CI: one result per rejected program, at the source line the verifier
rejected, with the culprit (where the offending value went wrong) as a related location.

CI systems (code scanning, review bots) show each result as an annotation on that line.
A log names the file and line from v6.2 on (`@ file.c:N`); older logs name only the
line's text, which is found in the program's source when it is given (`--source`, or the
program `try` compiled).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import __version__
from ..analysis.advice import lesson
from ..analysis.diagnosis import Diagnosis
from ..model import SourceLine
from .text import line_in_source, source_file

VERSION = "2.1.0"


def _schema_uri() -> str:
    """The `$schema` a SARIF 2.1.0 log names: sarif-kit's, the package CI converters use
    (imported here only: it brings jsonschema, ~90 ms)."""
    from sarif_kit.builder import SARIF_VERSION, SCHEMA_URI
    assert SARIF_VERSION == VERSION
    return SCHEMA_URI


def _uri(path: Path) -> str:
    """A path as the URI CI resolves against the checkout: relative when it can be."""
    if path.is_absolute():
        try:
            return path.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return path.as_uri()
    return path.as_posix()


def _file_of(source: SourceLine | None, source_path: Path | None) -> str | None:
    """The program's file (text.source_file), as a URI when it is the one given."""
    name = source_file(source, source_path)
    return _uri(source_path) if source_path is not None and name == str(source_path) else name


def _location(source: SourceLine | None, source_path: Path | None, program_source: list[str] | None,
              text: str | None = None, ident: int | None = None) -> dict[str, Any] | None:
    uri = _file_of(source, source_path)
    if uri is None:
        return None
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
    line = line_in_source(source, program_source)
    if line is not None:
        physical["region"] = {"startLine": line, "snippet": {"text": source.text}}
    out: dict[str, Any] = {"physicalLocation": physical}
    if ident is not None:
        out["id"] = ident
    if text is not None:
        out["message"] = {"text": text}
    return out


def _message(diagnosis: Diagnosis, label: str | None) -> str:
    error = diagnosis.error
    where = f" ({label})" if label else ""
    lines = [f"{diagnosis.program or 'program'}{where}: {error.message} [{error.error_class}]",
             diagnosis.explanation]
    lines += [f"Fix {n}: {text}" for n, text in enumerate(diagnosis.suggestions, 1)]
    return "\n".join(line for line in lines if line)


def _result(diagnosis: Diagnosis, label: str | None, rule_index: int, source_path: Path | None,
            program_source: list[str] | None) -> dict[str, Any]:
    error = diagnosis.error
    culprit = diagnosis.culprit
    result: dict[str, Any] = {
        "ruleId": error.error_class,
        "ruleIndex": rule_index,
        "level": "error",
        "message": {"text": _message(diagnosis, label)},
        "properties": {"program": diagnosis.program, "insn": error.insn, "insn_text": error.insn_text},
    }
    if label and label.startswith("kernel "):
        result["properties"]["kernel"] = label.removeprefix("kernel ")
    elif label:  # one of several inputs
        result["properties"]["input"] = label
    at = _location(error.source, source_path, program_source)
    if at is not None:
        result["locations"] = [at]
    if culprit is not None:
        note = f"culprit: {culprit.location} {culprit.note} (instruction {culprit.insn}: {culprit.insn_text})"
        related = _location(culprit.source, source_path, program_source, note, ident=1)
        if related is not None:
            result["relatedLocations"] = [related]
        result["properties"]["culprit_insn"] = culprit.insn
    judgement = diagnosis.judgement
    if judgement is not None:
        result["properties"]["confidence"] = judgement.confidence
        result["properties"]["kind"] = judgement.kind
        site = judgement.fix_site
        if site is not None:
            result["properties"]["fix_site"] = {"insn": site.insn, "action": site.action}
            where = _location(site.source, source_path, program_source)
            if where is not None:
                result["properties"]["fix_site"]["location"] = where
                region = where["physicalLocation"].get("region")
                if region is not None:
                    # A SARIF fix: the change goes at the start of that line (an empty region:
                    # an insertion point); the text to insert is the description's, not claimed.
                    result["fixes"] = [{
                        "description": {"text": site.action},
                        "artifactChanges": [{
                            "artifactLocation": where["physicalLocation"]["artifactLocation"],
                            "replacements": [{"deletedRegion": {"startLine": region["startLine"],
                                                                "startColumn": 1, "endColumn": 1}}],
                        }],
                    }]
    return result


def sarif_log(shown: list[tuple[str | None, Diagnosis, object]], source_path: Path | None,
              program_source: list[str] | None,
              sources: dict[str, tuple[Path | None, list[str] | None]] | None = None) -> dict[str, Any]:
    """The SARIF log of (label, diagnosis, trace) triples: a result per rejected program.
    `sources` gives a label (an input of several) its own program file and text."""
    rejected = [(label, d) for label, d, _ in shown if d.verdict == "rejected" and d.error is not None]

    def source_of(label: str | None) -> tuple[Path | None, list[str] | None]:
        return (sources or {}).get(label or "", (source_path, program_source))

    classes = sorted({d.error.error_class for _, d in rejected})
    rules = [{"id": name, "name": name, "shortDescription": {"text": lesson(name).title},
              "fullDescription": {"text": lesson(name).explain()}, "defaultConfiguration": {"level": "error"}}
             for name in classes]
    results = [_result(d, label, classes.index(d.error.error_class), *source_of(label))
               for label, d in rejected]
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "verifier-doctor", "version": __version__, "rules": rules}},
        "results": results,
    }
    paths = [source_path, *(path for path, _ in (sources or {}).values())]
    artifacts = list(dict.fromkeys(_uri(path) for path in paths if path is not None))
    if artifacts:
        run["artifacts"] = [{"location": {"uri": uri}} for uri in artifacts]
    return {"$schema": _schema_uri(), "version": VERSION, "runs": [run]}


def sarif_text(shown: list[tuple[str | None, Diagnosis, object]], source_path: Path | None,
               program_source: list[str] | None,
               sources: dict[str, tuple[Path | None, list[str] | None]] | None = None) -> str:
    return json.dumps(sarif_log(shown, source_path, program_source, sources), indent=2) + "\n"
