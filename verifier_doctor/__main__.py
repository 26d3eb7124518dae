"""`python -m verifier_doctor` is the `vdoctor` command."""

from .entry import main

main()
