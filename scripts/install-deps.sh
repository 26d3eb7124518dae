#!/usr/bin/env bash
# Installs the system packages verifier-doctor needs: clang (14 and 19), libbpf >= 1.4 and
# bpftool 7.5 (bookworm-backports), qemu and busybox for the kernel matrix.
# The Debian mirror is read from this machine's own apt configuration; no host is written here.
set -euo pipefail

# --loaders: also the other loaders whose output `make fixtures` records
# (scripts/record_loaders.py): Go and cilium/ebpf, BCC and kernel headers for it, bpftrace.
# The tests read the recorded files and need none of them.
if [ "${1:-}" = "--loaders" ]; then
    missing=0
    for tool in go bpftrace; do command -v "$tool" >/dev/null 2>&1 || missing=1; done
    [ -d /usr/share/gocode/src/github.com/cilium/ebpf ] || missing=1
    [ -d /usr/lib/python3/dist-packages/bcc ] || missing=1
    ls -d /usr/src/linux-headers-*-common >/dev/null 2>&1 || [ -d "/lib/modules/$(uname -r)/build" ] || missing=1
    [ "$missing" = 0 ] && exit 0
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends golang-go golang-github-cilium-ebpf-dev \
        python3-bpfcc bpftrace linux-headers-amd64 >/dev/null
    echo "install-deps: loaders installed." >&2
    exit 0
fi

need_apt=0
# chromium: tests/test_html.py loads the HTML view in a real headless browser.
for tool in clang-19 clang-14 bpftool qemu-system-x86_64 busybox cpio llvm-objdump-19 ip chromium; do
    command -v "$tool" >/dev/null 2>&1 || need_apt=1
done
# libbpf 1.4 or newer: the loader binds libbpf.so.1 and uses its 1.x API.
if ! ls /usr/lib/*/libbpf.so.1.[4-9]* >/dev/null 2>&1; then need_apt=1; fi
[ -e /usr/include/x86_64-linux-gnu/gnu/stubs-32.h ] || [ "$(uname -m)" != x86_64 ] || need_apt=1
# The static guest loader for the QEMU matrix links libbpf, libelf, zlib and zstd statically.
for lib in libbpf.a libelf.a libz.a libzstd.a; do
    ls /usr/lib/*/"$lib" >/dev/null 2>&1 || need_apt=1
done
command -v gcc >/dev/null 2>&1 || need_apt=1
# jemalloc: make bench times it beside glibc's malloc (scripts/bench_allocator.py).
ls /usr/lib/*/libjemalloc.so >/dev/null 2>&1 || need_apt=1
[ "$need_apt" = 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: system packages are missing and this is not root; run as root once." >&2
    exit 1
fi

# The mirror and keyring of the release this machine already uses.
mirror_uri() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' "$f"
    done | head -n 1
}
uri=$(mirror_uri)
if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
fi
[ -n "$uri" ] || { echo "install-deps: no Debian mirror found in the apt configuration." >&2; exit 1; }
codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
src=/etc/apt/sources.list.d/vdoctor-backports.sources
if [ ! -f "$src" ]; then
    cat > "$src" <<EOT
Types: deb
URIs: $uri
Suites: $codename-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q -t "$codename-backports" libbpf-dev libbpf1 bpftool >/dev/null
apt-get install -y -q clang-19 llvm-19 clang-14 libc6-dev-i386 gcc libc6-dev \
    libelf-dev zlib1g-dev libzstd-dev libjemalloc-dev \
    qemu-system-x86 busybox-static cpio iproute2 zstd xz-utils chromium >/dev/null
echo "install-deps: system packages installed." >&2
