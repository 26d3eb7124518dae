#!/usr/bin/env bash
# `make demo`: the user's case end to end, on the running kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
vdoctor=.venv/bin/vdoctor

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "The user's own log, explained" "vdoctor explain fixtures/seed/linked_list_pool.verifier.log"
$vdoctor explain fixtures/seed/linked_list_pool.verifier.log

step "A linked-list allocator over a static pool: compiled, loaded, rejected, explained" \
     "vdoctor try fixtures/programs/linked_list_pool.bpf.c"
status=0
$vdoctor try fixtures/programs/linked_list_pool.bpf.c || status=$?
[ "$status" -eq 1 ] || { echo "demo: expected the verifier to reject it (exit 1), got $status" >&2; exit 1; }

step "An accepted program: verifier statistics, then three runs with BPF_PROG_TEST_RUN" \
     "vdoctor try fixtures/programs/accepted_counter.bpf.c --run 3"
$vdoctor try fixtures/programs/accepted_counter.bpf.c --run 3

if [ -f examples/hello_malloc.bpf.c ] && [ -f allocator_c/static_malloc.h ]; then
    fixed=$(mktemp --suffix=.bpf.c)
    trap 'rm -f "$fixed"' EXIT
    step "The user's first program calls malloc; vdoctor fix rewrites it to the shipped allocator" \
         "vdoctor fix examples/hello_malloc.bpf.c -o hello_fixed.bpf.c && vdoctor try hello_fixed.bpf.c --run 2"
    $vdoctor fix examples/hello_malloc.bpf.c -o "$fixed"
    $vdoctor try "$fixed" --run 2
fi
