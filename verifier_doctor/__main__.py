"""`python -m verifier_doctor` is the `vdoctor` command."""

from .cli import app

app(prog_name="vdoctor")
