"""The kernel side of verifier-doctor: build, load, run and attach BPF programs.

One job per module. For the running kernel: `build` compiles with clang,
`libbpf` binds libbpf.so.1, `loader` loads each program and keeps libbpf's log,
`runner` test-runs a loaded program, `tracing` collects its bpf_printk lines,
`attach` puts an XDP program on an interface. `kernels`, `qemu` and `guest`
do the same for other kernels under QEMU. Nothing here parses the log.
"""
