"""`python -m verifier_doctor` is the `vdoctor` command."""

from .cli import main

main()
