"""Where a repair goes: the lines of the rejected access and of the culprit, in the source.

`fix_site` is the one place that reads the diagnosis for the repair rules. Today it takes the
error instruction's source line and the culprit's; when the diagnosis carries its own
`fix_site` (instruction, source line, action), this function is the one to point at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from ..analysis import Diagnosis
from ..model import SourceLine

__all__ = ["Site", "fix_site", "line_of"]


@dataclass(frozen=True, slots=True)
class Site:
    error_class: str
    program: str | None  # the rejected program (its function's name)
    error_line: int | None  # the rejected instruction's line in the source being repaired
    culprit_line: int | None  # where the offending value was made (the call, the load, the lock)
    register: str | None
    culprit_detail: str | None  # e.g. the helper that returned the value


def line_of(source: SourceLine | None, name: str, lines: list[str]) -> int | None:
    """The 1-based line of `source` in the file `name` whose text is `lines`: the log's line
    number when it names this file, else the one line whose text is the log's (logs before
    6.2 quote the text only)."""
    if source is None:
        return None
    if source.line is not None and (source.file is None or PurePath(source.file).name == PurePath(name).name):
        if 0 < source.line <= len(lines) and (not source.text or
                                               source.text.strip() in lines[source.line - 1]):
            return source.line
    if source.text and source.text.strip():
        wanted = source.text.strip()
        found = [n for n, text in enumerate(lines, start=1) if text.strip() == wanted]
        found = found or [n for n, text in enumerate(lines, start=1) if wanted in text]
        if len(found) == 1:
            return found[0]
    return None


def fix_site(diagnosis: Diagnosis, name: str, text: str) -> Site:
    """The site of `diagnosis` in the source `text` of file `name`."""
    lines = text.split("\n")
    error, culprit = diagnosis.error, diagnosis.culprit
    return Site(
        error_class=error.error_class if error else "other",
        program=diagnosis.program,
        error_line=line_of(error.source if error else None, name, lines),
        culprit_line=line_of(culprit.source if culprit else None, name, lines),
        register=error.register if error else None,
        culprit_detail=culprit.detail if culprit else None,
    )
