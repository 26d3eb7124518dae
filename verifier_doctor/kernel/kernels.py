"""Debian kernel images for the QEMU matrix, fetched through apt into a cache outside the repo.

Each label in `SUPPORTED` names the Debian suite that ships it; the newest image the suite
offers is taken (through its `linux-image-amd64` metapackage), even when the suite has moved
on to another release (the label is kept, `KernelImage.release` records what was fetched).

apt runs with a private configuration per suite (its own sources list, state and cache under
the cache directory), so the host's package set is never mixed with sid's or bullseye's. The
mirror is the one this machine's apt already uses; no host name is written here.

    image = kernel_image("6.1")      # first call: apt update + download (~70 MB)
    image.release, image.vmlinuz     # "6.1.0-40-amd64", Path(".../6.1/vmlinuz")

Cache: `$VDOCTOR_CACHE/kernels`, else `${XDG_CACHE_HOME:-~/.cache}/vdoctor/kernels`. A second
call with the image present touches no network.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from verifier_doctor.cache import cache_root
from verifier_doctor.errors import KernelUnavailable

SUPPORTED = ("5.10", "6.1", "6.12", "7.2", "7.3")

# The suite that ships each label (5.10 bullseye, 6.1 bookworm, 6.12 bookworm-backports,
# 7.2 sid, 7.3 release candidates in experimental).
SUITES = {
    "5.10": "bullseye",
    "6.1": "bookworm",
    "6.12": "bookworm-backports",
    "7.2": "sid",
    "7.3": "experimental",
}

_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
_META = "kernel.json"


@dataclass(frozen=True, slots=True)
class KernelImage:
    """A bootable kernel: its label in SUPPORTED, the release it really is, its image."""

    version: str
    release: str
    vmlinuz: Path


def kernel_image(
    version: str, cache_dir: Path | None = None, *, refresh: bool = False
) -> KernelImage:
    """The kernel for `version` (a label in SUPPORTED), fetched once through apt and cached.

    `refresh` asks the suite again for its newest image even when one is cached.
    """
    if version not in SUPPORTED:
        raise KernelUnavailable(
            f"Kernel {version!r} is not one of {', '.join(SUPPORTED)}."
        )
    base = Path(cache_dir) if cache_dir is not None else cache_root() / "kernels"
    target = base / version
    cached = None if refresh else _read_cached(version, target)
    if cached is not None:
        return cached
    target.mkdir(parents=True, exist_ok=True)
    with _locked(target / ".lock"):
        # Another process may have fetched it while this one waited for the lock.
        cached = None if refresh else _read_cached(version, target)
        if cached is not None:
            return cached
        return _fetch(version, SUITES[version], base, target)


def _read_cached(version: str, target: Path) -> KernelImage | None:
    try:
        meta = json.loads((target / _META).read_text())
    except (OSError, ValueError):
        return None
    vmlinuz = target / "vmlinuz"
    if not vmlinuz.is_file() or meta.get("version") != version:
        return None
    return KernelImage(version=version, release=meta["release"], vmlinuz=vmlinuz)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fetch(version: str, suite: str, base: Path, target: Path) -> KernelImage:
    apt = _PrivateApt(base / "apt" / suite, suite)
    apt.update()
    with tempfile.TemporaryDirectory(dir=target) as scratch:
        deb, member = apt.download_image(apt.newest_release(), Path(scratch))
        release = _release_of(member)
        os.replace(_extract(deb, member, Path(scratch)), target / "vmlinuz")
    (target / _META).write_text(
        json.dumps({"version": version, "suite": suite, "release": release, "package": deb.name})
        + "\n"
    )
    shutil.rmtree(apt.root / "lists", ignore_errors=True)  # ~10-40 MB, only needed to fetch again
    return KernelImage(version=version, release=release, vmlinuz=target / "vmlinuz")


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (the first non-security `URIs:`)."""
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        try:
            text = sources.read_text()
        except OSError:
            continue
        for stanza in re.split(r"\n\s*\n", text):
            if re.search(r"^Enabled:\s*no\b", stanza, re.M | re.I):
                continue
            uris = re.search(r"^URIs:\s*(.+)$", stanza, re.M)
            if uris is None or not re.search(r"^Types:(.*\s)?deb(\s|$)", stanza, re.M):
                continue
            for uri in uris.group(1).split():
                if "security" not in uri:
                    return uri
    legacy = Path("/etc/apt/sources.list")
    if legacy.is_file():
        for line in legacy.read_text().splitlines():
            fields = line.split()
            if len(fields) < 3 or fields[0] != "deb":
                continue
            uri = next((f for f in fields[1:] if not f.startswith("[")), "")
            if uri and "security" not in uri and not uri.endswith("]"):
                return uri
    raise KernelUnavailable("No Debian mirror is configured in /etc/apt to fetch kernels from.")


class _PrivateApt:
    """apt-get and apt-cache confined to one suite, with state and cache in `root`."""

    def __init__(self, root: Path, suite: str) -> None:
        self.root = root
        self.suite = suite
        for sub in ("lists/partial", "cache/archives/partial", "etc/sources.list.d",
                    "etc/preferences.d"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "status").touch()
        signed = f" [signed-by={_KEYRING}]" if _KEYRING.is_file() else ""
        (root / "etc/sources.list").write_text(
            f"deb{signed} {debian_mirror()} {suite} main\n"
        )
        self.options = [
            f"-oDir::Etc::SourceList={root}/etc/sources.list",
            f"-oDir::Etc::SourceParts={root}/etc/sources.list.d",
            f"-oDir::Etc::Preferences={root}/etc/preferences",
            f"-oDir::Etc::PreferencesParts={root}/etc/preferences.d",
            f"-oDir::State={root}",
            f"-oDir::State::Lists={root}/lists",
            f"-oDir::State::status={root}/status",
            f"-oDir::Cache={root}/cache",
            "-oAPT::Architecture=amd64",
            "-oAPT::Architectures::=amd64",
            "-oAcquire::Languages=none",
            "-oAPT::Get::List-Cleanup=false",
            "-oDebug::NoLocking=true",
            "-oAPT::Sandbox::User=root",
            "-qq",
        ]

    def _run(self, tool: str, *args: str, cwd: Path | None = None) -> str:
        if shutil.which(tool) is None:
            raise KernelUnavailable(f"{tool} is not installed, so no Debian kernel can be fetched.")
        proc = subprocess.run(
            [tool, *self.options, *args], cwd=cwd, capture_output=True, text=True,
            env={**os.environ, "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"},
        )
        if proc.returncode != 0:
            detail = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            raise KernelUnavailable(
                f"apt could not fetch from Debian {self.suite}: {detail}"
            )
        return proc.stdout

    def update(self) -> None:
        self._run("apt-get", "update")

    def _field(self, package: str, field: str) -> str | None:
        try:
            shown = self._run("apt-cache", "show", "--no-all-versions", package)
        except KernelUnavailable:
            return None
        match = re.search(rf"^{field}:\s*(.+)$", shown, re.M)
        return match.group(1).strip() if match else None

    def field(self, package: str, name: str) -> str | None:
        """A field of the suite's newest `package` ("Version"), or None if it has none."""
        return self._field(package, name)

    def download(self, package: str, into: Path) -> None:
        """The suite's newest `package`, as a .deb in `into`."""
        self._run("apt-get", "download", package, cwd=into)

    def newest_release(self) -> str:
        """The release (`uname -r`) of the newest generic amd64 image of the suite."""
        depends = self._field("linux-image-amd64", "Depends") or ""
        match = re.search(r"\blinux-image-(\S+-amd64)\b", depends)
        if match:
            return match.group(1)
        # No metapackage (experimental often has none): the highest-versioned image package.
        listed = self._run("apt-cache", "pkgnames", "linux-image-")
        releases = [
            name[len("linux-image-"):]
            for name in listed.split()
            if re.fullmatch(r"linux-image-\d+\.\d+\S*-amd64", name) and "-rt-" not in name
            and "-cloud-" not in name and not name.endswith("-dbg")
        ]
        if not releases:
            raise KernelUnavailable(f"Debian {self.suite} offers no amd64 kernel image.")
        return max(releases, key=_release_key)

    def download_image(self, release: str, into: Path) -> tuple[Path, str]:
        """Download the package holding the image; return it and the image's path inside it.

        Up to Debian 13 the image is /boot/vmlinuz-RELEASE in linux-image-RELEASE; newer suites
        ship it as /usr/lib/modules/RELEASE/vmlinuz in linux-binary-RELEASE.
        """
        for package in (f"linux-binary-{release}", f"linux-image-{release}",
                        f"linux-image-{release}-unsigned"):
            if self._field(package, "Package") is None:
                continue
            self._run("apt-get", "download", package, cwd=into)
            for deb in sorted(into.glob(f"{package}_*.deb"), reverse=True):
                member = _vmlinuz_member(deb)
                if member is not None:
                    return deb, member
                deb.unlink()
        raise KernelUnavailable(f"No package in Debian {self.suite} holds the {release} kernel.")


def private_apt(suite: str) -> _PrivateApt:
    """apt confined to one Debian suite, its state in the kernel cache (lists fetched by update())."""
    return _PrivateApt(cache_root() / "kernels" / "apt" / suite, suite)


def _release_key(release: str) -> tuple:
    """Sort key for kernel releases: '7.3.0-rc5', '6.12.38+deb12', numbers compared numerically."""
    parts = re.split(r"[.+~-]", release)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def _vmlinuz_member(deb: Path) -> str | None:
    listing = subprocess.run(["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True)
    for line in listing.stdout.splitlines():
        match = re.search(r"(\./(?:boot/vmlinuz-[^/\s]+|usr/lib/modules/[^/\s]+/vmlinuz))$", line)
        if match and line.startswith("-"):
            return match.group(1)
    return None


def _release_of(member: str) -> str:
    """'./boot/vmlinuz-6.1.0-40-amd64' or './usr/lib/modules/7.3-amd64/vmlinuz' -> the release."""
    if member.startswith("./boot/vmlinuz-"):
        return member[len("./boot/vmlinuz-"):]
    return member.split("/")[-2]


def _extract(deb: Path, member: str, into: Path) -> Path:
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    extract = subprocess.run(["tar", "-x", "-C", str(into), member],
                             stdin=tar.stdout, capture_output=True, text=True)
    assert tar.stdout is not None
    tar.stdout.close()
    tar.wait()
    path = into / member
    if extract.returncode != 0 or tar.returncode != 0 or not path.is_file():
        raise KernelUnavailable(f"The kernel image could not be unpacked from {deb.name}.")
    return path
