"""Parsing: verifier log text -> typed trace model (grammar + transformer + reader)."""

from .reader import read_log

__all__ = ["read_log"]
