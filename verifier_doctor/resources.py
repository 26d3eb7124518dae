"""Where the files the package ships live: the Lark grammars, the allocator's C, and the
catalogue's reproducers with their recorded logs (fixtures/programs, fixtures/logs)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    # A wheel carries the folder inside the package; an editable install or a
    # checkout reads it from the repository root beside the package.
    for candidate in (_PACKAGE / "_shipped" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"verifier-doctor is installed without its {name}/ folder")


@cache
def grammar_dir() -> Path:
    return _shipped("grammars")


@cache
def allocator_dir() -> Path:
    return _shipped("allocator_c")


@cache
def fixtures_dir() -> Path | None:
    """The folder holding programs/ and logs/ for the catalogue, or None when neither the
    package nor a checkout has it."""
    for candidate in (_PACKAGE / "_shipped" / "fixtures", _PACKAGE.parent / "fixtures"):
        if (candidate / "programs").is_dir():
            return candidate
    return None
