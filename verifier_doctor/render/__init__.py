"""Presentation: a diagnosis -> text for a person (rich) or a JSON object for tools."""
