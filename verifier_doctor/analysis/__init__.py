"""Analysis: the trace model -> a diagnosis (classification, provenance, advice)."""

from .diagnosis import Diagnosis, diagnose

__all__ = ["Diagnosis", "diagnose"]
