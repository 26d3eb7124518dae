"""`vdoctor fix`: rewrite_malloc renames malloc-family calls and adds the include."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from verifier_doctor.fix import ALLOCATOR_INCLUDE, FixResult, rewrite_malloc, tokenize
from verifier_doctor.resources import allocator_dir

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "hello_malloc.bpf.c"


# ---- unit tests -------------------------------------------------------------


def test_rewrites_each_family_call_and_adds_include():
    src = "void f(void) {\n\tint *p = malloc(4);\n\tp = realloc(p, 8);\n\tq = calloc(2, 4);\n\tfree(p);\n}\n"
    result = rewrite_malloc(src)
    assert result.changed
    assert result.replacements == 4
    assert result.text == (
        ALLOCATOR_INCLUDE + "\n"
        "void f(void) {\n\tint *p = static_malloc(4);\n\tp = static_realloc(p, 8);\n"
        "\tq = static_calloc(2, 4);\n\tstatic_free(p);\n}\n"
    )


def test_no_call_means_unchanged():
    src = "/* malloc(1) */\nint free;\nint my_malloc(int n) { return n; }\n"
    result = rewrite_malloc(src)
    assert result == FixResult(text=src, changed=False, replacements=0)


@pytest.mark.parametrize(
    "snippet",
    [
        'const char *s = "malloc(4) and free(p)";',
        "char c = '(';  // malloc(4) in a comment",
        "/* free(p);\n   calloc(1, 2); */",
        "int x = my_malloc(4) + malloc_size(3) + xfree(2);",
        "obj.free(p); obj->free(p); ops->malloc(3);",
        "struct pool { bool free; int malloc; };",
        "void *malloc(size_t n);\nvoid free(void *p);\nvoid **calloc(size_t a, size_t b);",
        "#include <malloc.h>",
    ],
)
def test_leaves_non_calls_alone(snippet):
    assert rewrite_malloc(snippet) == FixResult(text=snippet, changed=False, replacements=0)


def test_mixed_line_rewrites_only_the_call():
    src = 'x = malloc(n); /* malloc */ s = "free(x)"; o->free(x); free (x);\n'
    result = rewrite_malloc(src)
    assert result.replacements == 2
    assert result.text.endswith(
        'x = static_malloc(n); /* malloc */ s = "free(x)"; o->free(x); static_free (x);\n'
    )


def test_calls_after_return_cast_and_in_arguments():
    src = "return malloc(1);\np = (char *)malloc(2);\ng(free(p), calloc(1, 1));\nif (x) free(y);\n"
    result = rewrite_malloc(src)
    assert result.replacements == 5
    assert "return static_malloc(1);" in result.text
    assert "(char *)static_malloc(2)" in result.text
    assert "g(static_free(p), static_calloc(1, 1))" in result.text
    assert "if (x) static_free(y);" in result.text


def test_comment_between_name_and_paren_still_a_call():
    result = rewrite_malloc("p = malloc /* size */ (4);\n")
    assert result.replacements == 1
    assert "p = static_malloc /* size */ (4);" in result.text


def test_include_goes_after_leading_comment_block_before_code():
    src = "// SPDX-License-Identifier: GPL-2.0\n/* prog.bpf.c */\n\n#include <linux/bpf.h>\nint f() { return malloc(1) != 0; }\n"
    result = rewrite_malloc(src)
    lines = result.text.splitlines()
    assert lines[:4] == [
        "// SPDX-License-Identifier: GPL-2.0",
        "/* prog.bpf.c */",
        ALLOCATOR_INCLUDE,
        "",
    ]
    assert lines[4] == "#include <linux/bpf.h>"


def test_include_not_added_twice():
    src = '#include "static_malloc.h"\nvoid f() { free(p); }\n'
    result = rewrite_malloc(src)
    assert result.replacements == 1
    assert result.text.count("static_malloc.h") == 1
    src2 = "#include <static_malloc.h>\nvoid f() { free(p); }\n"
    assert rewrite_malloc(src2).text.count("static_malloc.h") == 1


def test_nothing_else_removed():
    src = EXAMPLE.read_text()
    result = rewrite_malloc(src)
    # undo the renames and the include: the original comes back exactly
    undone = result.text.replace(ALLOCATOR_INCLUDE + "\n", "", 1)
    for name in ("malloc", "calloc", "realloc", "free"):
        undone = undone.replace(f"static_{name}(", f"{name}(")
    assert undone == src


def test_tokenizer_survives_unterminated_input():
    """clang's lexer: every token is the source's own bytes, only white space between them."""
    for src in ['x = "abc', "c = 'a", "// end\\\nmore"]:
        data, last = src.encode(), 0
        for token in tokenize(src):
            assert data[token.start:token.end].decode() == token.text
            assert not data[last:token.start].strip()
            last = token.end
        assert not data[last:].strip()
    # an unterminated comment runs to the end: nothing in it is a call
    assert tokenize("/* open") == []
    assert not rewrite_malloc("int x;\n/* open malloc(1);\n").changed


# ---- the user's program, rewritten, in the running kernel ---------------------


def _clang() -> str | None:
    for cc in ("clang-19", "clang-14", "clang"):
        if shutil.which(cc):
            return cc
    return None


def _compile(cc: str, source: Path, obj: Path) -> subprocess.CompletedProcess[str]:
    multiarch = Path(f"/usr/include/{platform.machine()}-linux-gnu")
    cmd = [cc, "-target", "bpf", "-O2", "-g", f"-I{allocator_dir()}"]
    if multiarch.is_dir():
        cmd.append(f"-I{multiarch}")
    cmd += ["-c", str(source), "-o", str(obj)]
    return subprocess.run(cmd, capture_output=True, text=True)


def _bpffs_pin() -> Path:
    bpffs = Path("/sys/fs/bpf")
    if not os.path.ismount(bpffs):  # root may mount it, as the allocator's runner does
        subprocess.run(["mount", "-t", "bpf", "bpf", str(bpffs)], capture_output=True)
    if not os.path.ismount(bpffs):
        pytest.skip("bpffs is not mounted at /sys/fs/bpf, and mounting it failed")
    return bpffs / f"vdoctor_fix_{uuid.uuid4().hex[:8]}"


def test_example_is_the_users_program():
    text = EXAMPLE.read_text()
    assert "#include" not in text.replace('#include "static_malloc.h" and', "")
    assert "malloc(sizeof(vec2_t))" in text
    assert 'bpf_printk("Hello World %d", counter)' in text


def test_original_example_does_not_compile():
    cc = _clang()
    if cc is None:
        pytest.skip("no clang")
    result = _compile(cc, EXAMPLE, Path(os.devnull))
    assert result.returncode != 0
    assert "error" in result.stderr


@pytest.mark.kernel
def test_fixed_example_compiles_and_loads(tmp_path):
    cc = _clang()
    if cc is None:
        pytest.skip("no clang")
    if os.geteuid() != 0:
        pytest.skip("loading BPF needs root")
    bpftool = shutil.which("bpftool")
    if bpftool is None:
        pytest.skip("no bpftool")

    fixed = rewrite_malloc(EXAMPLE.read_text())
    assert fixed.changed and fixed.replacements == 1
    source = tmp_path / "hello_malloc.bpf.c"
    source.write_text(fixed.text)
    obj = tmp_path / "hello_malloc.o"
    built = _compile(cc, source, obj)
    assert built.returncode == 0, built.stderr

    pin = _bpffs_pin()
    try:
        load = subprocess.run([bpftool, "prog", "load", str(obj), str(pin)], capture_output=True, text=True)
        assert load.returncode == 0, load.stderr[-3000:]
        packet = tmp_path / "pkt.bin"
        packet.write_bytes(bytes(64))
        run = subprocess.run(
            [bpftool, "prog", "run", "pinned", str(pin), "data_in", str(packet), "repeat", "3"],
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr
        assert "Return value: 2" in run.stdout + run.stderr  # XDP_PASS
    finally:
        pin.unlink(missing_ok=True)
