#!/bin/bash
# Build every tests/allocator/progs/*.bpf.c with each compiler given (default:
# clang-19 clang-14), load it into the running kernel and run every program
# tagged `vdoctor-test: expect N` REPEAT times (default 3) with
# BPF_PROG_TEST_RUN; programs tagged `vdoctor-test: load` only load.
# Needs root and bpftool. Exit status 1 when anything fails.
set -u
here=$(cd "$(dirname "$0")" && pwd)
inc=$(cd "$here/../../allocator_c" && pwd)
multiarch=/usr/include/$(uname -m)-linux-gnu
repeat=${REPEAT:-3}
compilers=${*:-clang-19 clang-14}
work=$(mktemp -d)
pin=/sys/fs/bpf/vdoctor_alloc_$$
trap 'rm -rf "$work" "$pin"' EXIT
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
head -c 64 /dev/zero > "$work/pkt.bin"
# Every run on one CPU: blocks freed on one CPU wait in that CPU's cache, so a
# program that needs the whole heap back must run where it freed them.
cpu=$(taskset -pc $$ | sed 's/.*: //; s/[-,].*//')
fail=0
for cc in $compilers; do
	for src in "$here"/progs/*.bpf.c; do
		name=$(basename "$src" .bpf.c)
		obj="$work/$name.$cc.o"
		if ! $cc -target bpf -O2 -g -I"$inc" -I"$multiarch" -c "$src" -o "$obj" 2>"$work/cc.log"; then
			echo "FAIL build $cc $name"; cat "$work/cc.log"; fail=1; continue
		fi
		if ! bpftool prog loadall "$obj" "$pin" >"$work/load.log" 2>&1; then
			echo "FAIL load $cc $name"; grep -v '^mark_precise' "$work/load.log" | tail -20; fail=1; continue
		fi
		# tag line, then the SEC line, then the function: collect "name expect"
		awk '/vdoctor-test:/ { tag = $0; next }
		     tag && /^int [a-z_0-9]+\(/ { match($0, /^int [a-z_0-9]+/); fn = substr($0, 5, RLENGTH - 4);
		       if (tag ~ /expect [0-9]+/) { match(tag, /expect [0-9]+/); print fn, substr(tag, RSTART + 7, RLENGTH - 7) }
		       else print fn, "load"; tag = "" }' "$src" > "$work/tags"
		while read -r fn expect; do
			if [ "$expect" = load ]; then echo "ok   $cc $name/$fn (loads)"; continue; fi
			in="data_in $work/pkt.bin"
			case "$fn" in *raw_tp*)
				# the kernel test-runs raw_tp only with repeat == 0 and
				# bpftool always sends repeat >= 1: load only here
				echo "ok   $cc $name/$fn (loads; run it with BPF_PROG_TEST_RUN, repeat 0, ctx_in)"; continue;;
			esac
			got=$(taskset -c "$cpu" bpftool prog run pinned "$pin/$fn" $in repeat "$repeat" 2>&1 | sed -n 's/.*Return value: \([0-9]*\).*/\1/p')
			if [ "$got" = "$expect" ]; then echo "ok   $cc $name/$fn"; else echo "FAIL $cc $name/$fn: returned '${got}', expected $expect"; fail=1; fi
		done < "$work/tags"
		rm -rf "$pin"
	done
done
exit $fail
