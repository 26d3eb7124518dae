"""Run a loaded program with BPF_PROG_TEST_RUN and collect its return value and printk lines."""

from __future__ import annotations

import ctypes
import errno
import struct
import time
from dataclasses import dataclass

from ..errors import VdoctorError
from . import libbpf
from .tracing import capture_printk

ENOTSUPP = 524  # the kernel-internal "operation not supported" some test_run paths return
ETH_HLEN = 14  # the kernel refuses shorter test packets (EINVAL)

# enum bpf_prog_type (include/uapi/linux/bpf.h)
SOCKET_FILTER, SCHED_CLS, SCHED_ACT, XDP, CGROUP_SKB = 1, 3, 4, 6, 8
LWT_IN, LWT_OUT, LWT_XMIT, RAW_TRACEPOINT, LWT_SEG6LOCAL, FLOW_DISSECTOR, SYSCALL = 10, 11, 12, 17, 19, 22, 31

# Types whose test run takes a packet (net/bpf/test_run.c: bpf_prog_test_run_skb,
# _xdp, _flow_dissector). All of them start from an Ethernet frame.
PACKET_TYPES = frozenset({SOCKET_FILTER, SCHED_CLS, SCHED_ACT, XDP, CGROUP_SKB, LWT_IN, LWT_OUT, LWT_XMIT, LWT_SEG6LOCAL, FLOW_DISSECTOR})
# Types whose test run takes only a context and refuses `repeat`: the kernel
# runs them once per call, so we call once per repetition.
CONTEXT_TYPES = frozenset({RAW_TRACEPOINT, SYSCALL})
# raw_tracepoint: the context is the tracepoint's arguments, at most
# MAX_BPF_FUNC_ARGS (12) u64 values; we pass them all, zero.
_RAW_TP_CTX = bytes(12 * 8)
# syscall: the context is whatever user memory the caller passes; a zeroed page
# lets a program read a small struct of its own.
_SYSCALL_CTX = bytes(4096)


@dataclass(frozen=True, slots=True)
class RunResult:
    retval: int  # the program's return value (of the last run)
    duration_ns: int  # average time of one run, as the kernel measured it (wall clock for once-only types)
    repeat: int
    printed: list[str]  # what bpf_printk wrote during the runs, one entry per line


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def default_packet(payload_size: int = 22) -> bytes:
    """A valid Ethernet + IPv4 + UDP frame of 64 bytes (192.0.2.1:4242 -> 192.0.2.2:9).

    The addresses are from TEST-NET-1 (RFC 5737), reserved for examples; the
    frame only ever reaches the program under test, never a network.
    """
    payload = b"vdoctor-test-packet!!!"[:payload_size].ljust(payload_size, b"\0")
    udp = struct.pack("!HHHH", 4242, 9, 8 + len(payload), 0) + payload  # UDP checksum 0: none, valid on IPv4
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, 17, 0, bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]))
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    eth = bytes.fromhex("020000000002") + bytes.fromhex("020000000001") + struct.pack("!H", 0x0800)
    return eth + ip + udp


def _run_once(prog_fd: int, opts: libbpf.BpfTestRunOpts, type_name: str) -> None:
    err = libbpf.lib().bpf_prog_test_run_opts(prog_fd, ctypes.byref(opts))
    if err == 0:
        return
    if -err in (errno.EOPNOTSUPP, ENOTSUPP, errno.EINVAL):
        raise VdoctorError(f"The kernel cannot test-run this {type_name} program ({libbpf.strerror(-err)}).")
    raise VdoctorError(f"BPF_PROG_TEST_RUN of the {type_name} program failed: {libbpf.strerror(-err)}.")


def test_run(prog_fd: int, prog_type: int, repeat: int = 1, data: bytes | None = None) -> RunResult:
    """Run program `prog_fd` `repeat` times on `data` (default: `default_packet()`)."""
    type_name = libbpf.prog_type_name(prog_type)
    repeat = max(1, repeat)
    opts = libbpf.BpfTestRunOpts(sz=ctypes.sizeof(libbpf.BpfTestRunOpts))
    keep = []  # the buffers opts points into must outlive the call

    if prog_type in PACKET_TYPES:
        if data is not None and len(data) < ETH_HLEN:
            raise VdoctorError(f"A test packet needs at least {ETH_HLEN} bytes, an Ethernet header; {len(data)} were given.")
        packet = ctypes.create_string_buffer(data if data is not None else default_packet(), len(data) if data is not None else 64)
        keep.append(packet)
        opts.data_in, opts.data_size_in, opts.repeat = ctypes.addressof(packet), len(packet), repeat
    elif prog_type in CONTEXT_TYPES:
        ctx = data if data is not None else (_RAW_TP_CTX if prog_type == RAW_TRACEPOINT else _SYSCALL_CTX)
        buffer = ctypes.create_string_buffer(ctx, len(ctx))
        keep.append(buffer)
        opts.ctx_in, opts.ctx_size_in = ctypes.addressof(buffer), len(buffer)
    else:
        raise VdoctorError(f"Programs of type {type_name} cannot be test-run; only packet, raw_tracepoint and syscall programs can.")

    with capture_printk() as printed:
        if prog_type in PACKET_TYPES:
            _run_once(prog_fd, opts, type_name)
            duration = opts.duration
        else:
            start = time.perf_counter_ns()
            for _ in range(repeat):
                _run_once(prog_fd, opts, type_name)
            duration = (time.perf_counter_ns() - start) // repeat
    return RunResult(retval=opts.retval, duration_ns=duration, repeat=repeat, printed=printed)
