"""Record the level-2 logs the cost profile's tests read (fixtures/profile/logs/<kernel>/).

    python scripts/record_profile_fixtures.py

Each log is the running kernel's, xz-compressed (a level-2 log of a loop repeats itself:
14 MB become 100 KB), from a build of a program at a named trip count:

- free_loop.32.L2.log.xz: fixtures/profile/free_loop.bpf.c, the shipped allocator's free
  loop, at FREE_BOUND=32 (accepted, the whole walk);
- free_loop.L2.tail.log.xz: the same at its default 1,100 trips, refused (too-complex),
  into a TAIL_BYTES buffer whose end the kernel keeps (6.4+), as `try` reloads one;
- too_complex_nested_loops.8.L2.log.xz: fixtures/programs/too_complex_nested_loops.bpf.c
  at ROWS=8 (accepted, the whole walk).

The allocator programs are built against static_malloc.h as it was at HEADER_REVISION
(read with `git show`), not the working tree's, so the logs stay reproducible while the
header changes; the tests build against the same revision to measure the loop's slope.
"""

from __future__ import annotations

import lzma
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from record_fixtures import host_label  # noqa: E402
from verifier_doctor.kernel.build import build_object  # noqa: E402

PROFILE = ROOT / "fixtures" / "profile"
LOGS = PROFILE / "logs"
# static_malloc.h of main on 2026-12-07 (eabb208: "the cache fast paths take the CPU struct
# their caller looked up"): its free loop costs about 950 instructions a trip on 6.18.
HEADER_REVISION = "eabb20860e01780f484668e0045eeabf76548ffb"
TAIL_BYTES = 1_900_000  # under the 2 MB a fixture may weigh, before compression
NESTED = ROOT / "fixtures" / "programs" / "too_complex_nested_loops.bpf.c"


def pinned_header(folder: Path) -> Path:
    """A folder holding static_malloc.h as it was at HEADER_REVISION."""
    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{HEADER_REVISION}:allocator_c/static_malloc.h"],
                          capture_output=True, text=True, check=True).stdout
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "static_malloc.h").write_text(text)
    return folder


def build(source: Path, out_dir: Path, defines: tuple[str, ...] = ()) -> Path:
    """The object of `source`, with the pinned allocator header first on the include path."""
    header = pinned_header(out_dir / "pinned")
    return build_object(source, out_dir / source.stem / "_".join(defines or ("default",)),
                        include_dirs=(header,), defines=defines).object


def level2_log(obj: Path, program: str, log_bytes: int | None = None) -> str:
    from verifier_doctor.kernel.loader import RERUN_LOG_BYTES, reload_at_level_2

    return reload_at_level_2(obj, program, log_bytes or RERUN_LOG_BYTES).log


def write(name: str, text: str) -> Path:
    path = LOGS / host_label() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(lzma.compress(text.encode(), preset=9))
    return path


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="vdoctor-profile-") as scratch:
        folder = Path(scratch)
        recorded = [
            write("free_loop.32.L2.log.xz",
                  level2_log(build(PROFILE / "free_loop.bpf.c", folder, ("FREE_BOUND=32",)), "free_list")),
            write("free_loop.L2.tail.log.xz",
                  level2_log(build(PROFILE / "free_loop.bpf.c", folder), "free_list", TAIL_BYTES)),
            write("too_complex_nested_loops.8.L2.log.xz",
                  level2_log(build(NESTED, folder, ("ROWS=8",)), "mix_table")),
        ]
    for path in recorded:
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
