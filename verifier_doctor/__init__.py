"""verifier-doctor: reads eBPF verifier logs and says why a program was rejected."""

__version__ = "0.1.0"
