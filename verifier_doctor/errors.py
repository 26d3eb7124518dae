"""The errors a person can cause or meet, each with the exit status from CLI.md.

The CLI catches `VdoctorError` once and prints `str(error)`: one sentence, no traceback.
"""

from __future__ import annotations

# Exit statuses (CLI.md): 0 accepted, 1 rejected, 2 usage or build error or not a log.
# 3 extends the contract: the environment cannot do what was asked (no BPF, no QEMU).
# 141 (128 + SIGPIPE, as a shell reports a command its pipe's reader left): the output's
# reader closed it early (`vdoctor explain big.log | head`); nothing more is said.
EXIT_ACCEPTED = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_OUTPUT_CLOSED = 141


class VdoctorError(Exception):
    """Base of every error meant for a person; the message is one sentence."""

    exit_status = EXIT_USAGE


class NotAVerifierLog(VdoctorError):
    """The input holds no line a verifier log would have."""


class BuildFailed(VdoctorError):
    """The compiler refused the program; the message carries its diagnostics."""


class KernelUnavailable(VdoctorError):
    """The kernel (running or under QEMU) cannot load BPF programs here."""

    exit_status = EXIT_ENVIRONMENT


class IncompleteLog(VdoctorError):
    """The log stops before the verifier's verdict: cut off by a small buffer or a paste."""
