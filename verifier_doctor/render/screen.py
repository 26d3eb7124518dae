"""Text for a terminal or a pipe: lines, aligned columns and wrapped prose, bold and
colours on a terminal only.

`explain` is run in an edit-load loop and must answer at once; rich costs ~25 ms of start-up
alone, and a diagnosis needs no more than this. (rich still draws the boxed tables of `try
--kernel all` and the catalogue, where a build or a boot dwarfs its start-up.)
"""

from __future__ import annotations

import os
import textwrap

# The styles the renderers use, as ANSI SGR codes.
_SGR = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33"}

PIPE_WIDTH = 120  # wide enough for a history table in a pipe or a CI log
MIN_WRAP = 30  # the fewest columns a table's last column is wrapped into


def _sgr(style: str) -> str:
    return ";".join(_SGR[word] for word in style.split())


def terminal_columns(stream) -> int:
    """$COLUMNS, else the width of the terminal `stream` writes to, else 0 (not known):
    shutil.get_terminal_size's rule, without importing shutil."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 0


def _set(name: str) -> bool:
    return bool(os.environ.get(name))


class Screen:
    """Writes to a text stream. Width: $COLUMNS, else the terminal's, else PIPE_WIDTH.
    Styles on a terminal (or anywhere with FORCE_COLOR set), never with NO_COLOR set or on a
    dumb terminal. Lines never end in blanks. Text is written as it is: nothing in it is
    read as markup."""

    def __init__(self, stream) -> None:
        tty = bool(getattr(stream, "isatty", lambda: False)())
        self.stream = stream
        self.width = max(terminal_columns(stream) or PIPE_WIDTH, 40)
        self.color = (tty or _set("FORCE_COLOR")) and not _set("NO_COLOR") and os.environ.get("TERM") != "dumb"

    def _styled(self, text: str, style: str | None) -> str:
        if not style or not self.color or not text:
            return text
        return f"\x1b[{_sgr(style)}m{text}\x1b[0m"

    def _write_line(self, line: str) -> None:
        self.stream.write(line.expandtabs(8).rstrip() + "\n")

    def print(self, *parts: str | tuple[str, str], style: str | None = None) -> None:
        """One line (or several, at the newlines in the text) of parts: a str, or a
        (text, style) pair; `style` styles every part that has none."""
        pieces = []
        for part in parts:
            text, part_style = part if isinstance(part, tuple) else (part, style)
            pieces.append(self._styled(text, part_style))
        for line in "".join(pieces).split("\n"):
            self._write_line(line)

    def _wrapped(self, text: str, width: int) -> list[str]:
        lines: list[str] = []
        for paragraph in text.split("\n"):
            lines.extend(textwrap.wrap(paragraph, max(width, 10), break_on_hyphens=False) or [""])
        return lines

    def columns(self, rows: list[tuple[str, ...]]) -> None:
        """Rows of cells in aligned columns two blanks apart; the last column is wrapped to
        the width left, its further lines under its first (unless that leaves it fewer than
        MIN_WRAP columns: then the line runs long rather than squeeze it)."""
        if not rows:
            return
        count = max(len(row) for row in rows)
        rows = [tuple(cell.expandtabs(8) for cell in row) + ("",) * (count - len(row)) for row in rows]
        widths = [max(len(row[column]) for row in rows) for column in range(count - 1)]
        lead = sum(widths) + 2 * len(widths)
        room = self.width - lead if self.width - lead >= MIN_WRAP else None
        for row in rows:
            head = "".join(cell.ljust(width) + "  " for cell, width in zip(row, widths))
            tail = [row[-1]] if room is None else self._wrapped(row[-1], room)
            self._write_line(head + tail[0])
            for more in tail[1:]:
                self._write_line(" " * lead + more)

    def labelled(self, rows: list[tuple[str, str]], label_width: int = 9,
                 label_style: str | None = None, text_style: str | None = None) -> None:
        """Prose beside labels: each row's label in a column of label_width, its text
        wrapped to the rest of the width, its further lines under its first. A row's label
        may be a (text, style) pair."""
        for label, text in rows:
            label_text, style = label if isinstance(label, tuple) else (label, label_style)
            lines = [self._styled(line, text_style) for line in self._wrapped(text, self.width - label_width - 1)]
            self._write_line(self._styled(label_text, style) + " " * (label_width + 1 - len(label_text)) + lines[0])
            for more in lines[1:]:
                self._write_line(" " * (label_width + 1) + more)
