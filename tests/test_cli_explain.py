"""`vdoctor explain`: the user's own log, the JSON contract of CLI.md, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED_LOG = ROOT / "fixtures" / "seed" / "linked_list_pool.verifier.log"


def test_users_log_json_names_insn_class_and_culprit(vdoctor):
    result = vdoctor("explain", SEED_LOG, "--json")
    assert result.status == 0
    out = result.json()
    assert out["verdict"] == "rejected"
    assert out["program"] == "hello"
    assert out["error"] == {**out["error"], "message": "R2 invalid mem access 'scalar'", "insn": 29,
                            "class": "scalar-deref"}
    assert out["culprit"]["register"] == "R2"
    assert out["culprit"]["insn"] == 25
    assert out["culprit"]["source"] == {"file": None, "line": None, "text": "curr = curr->next;"}
    assert out["stats"]["processed_insns"] == 69
    assert out["stats"]["total_states"] == 6 and out["stats"]["peak_states"] == 6
    assert "static_malloc.h" in " ".join(out["suggestions"])
    assert [h["insn"] for h in out["history"]] == [25, 29]


def test_users_log_text_tells_cause_and_fix(vdoctor):
    result = vdoctor("explain", SEED_LOG)
    assert result.status == 0
    text = result.stdout
    assert "rejected" in text and "scalar-deref" in text
    assert "instruction 25: r2 = *(u64 *)(r2 +16)" in text
    assert "curr = curr->next;" in text
    assert "map memory" in text


def _explain_on_a_terminal(columns: int, **env: str) -> str:
    """What `vdoctor explain` of the user's log writes to a pseudo-terminal COLUMNS wide."""
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios
    from fcntl import ioctl

    leader, follower = pty.openpty()
    ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "TERM")}
    done = subprocess.run([sys.executable, "-m", "verifier_doctor", "explain", str(SEED_LOG)],
                          stdout=follower, stderr=subprocess.PIPE, env={**environ, "TERM": "xterm", **env},
                          timeout=60)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal is closed once everything is read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert done.returncode == 0, done.stderr
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_text_on_a_terminal_is_styled_and_fits_its_width():
    import re

    out = _explain_on_a_terminal(72)
    assert "\x1b[1;31mrejected\x1b[0m" in out  # bold red
    assert "\x1b[1;33m  culprit\x1b[0m" in out
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    lines = plain.splitlines()
    # The prose is wrapped to the terminal (the history's last column too, when room is left).
    why = [line for line in lines if line.startswith("  why")]
    assert why and all(len(line) <= 72 for line in lines[lines.index(why[0]):] if not line.startswith("  log"))


def _outside_history(text: str) -> list[str]:
    """The lines of a diagnosis but its history table (a table runs long rather than squeeze)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  history"))
    end = next(i for i, line in enumerate(lines) if line.startswith("  why"))
    return lines[:start] + lines[end:]


def test_every_field_wraps_at_columns_in_a_pipe_too(vdoctor):
    """COLUMNS=60: the error, its instruction and source line, the culprit wrap as the prose
    does (before, they ran on at any width, and a pipe ignored COLUMNS)."""
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "verifier_doctor", "explain", str(SEED_LOG)],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "60"}, timeout=60)
    lines = _outside_history(done.stdout)
    assert max(len(line) for line in lines) <= 60, done.stdout
    assert "           if(curr->free == true && curr->size >= size){" not in lines  # wrapped, not cut
    assert "\x1b[" not in done.stdout


def test_force_color_styles_a_pipe_and_no_color_wins():
    import os
    import subprocess
    import sys

    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
    forced = subprocess.run([sys.executable, "-m", "verifier_doctor", "explain", str(SEED_LOG)],
                            capture_output=True, text=True, env={**environ, "FORCE_COLOR": "1"}, timeout=60)
    assert "\x1b[1;31mrejected\x1b[0m" in forced.stdout
    both = subprocess.run([sys.executable, "-m", "verifier_doctor", "explain", str(SEED_LOG)],
                          capture_output=True, text=True, env={**environ, "FORCE_COLOR": "1", "NO_COLOR": "1"},
                          timeout=60)
    assert "\x1b[" not in both.stdout


def test_no_color_keeps_a_terminal_plain():
    out = _explain_on_a_terminal(100, NO_COLOR="1")
    assert "\x1b[" not in out and "rejected  [scalar-deref]" in out


def test_text_in_a_pipe_is_plain_and_trimmed(vdoctor):
    text = vdoctor("explain", SEED_LOG).stdout
    assert "\x1b[" not in text
    assert all(line == line.rstrip() for line in text.splitlines())
    assert max(len(line) for line in text.splitlines()) <= 120


def test_standard_input_is_read(vdoctor):
    result = vdoctor("explain", "-", "--json", stdin=SEED_LOG.read_bytes())
    assert result.status == 0 and result.json()["error"]["insn"] == 29


def test_source_option_quotes_the_program(vdoctor, tmp_path):
    source = tmp_path / "pool.bpf.c"
    source.write_text("int a;\n  curr = curr->next;\nint b;\n")
    result = vdoctor("explain", SEED_LOG, "--source", source)
    assert ">    2 |   curr = curr->next;" in result.stdout


@pytest.mark.parametrize(
    ("content", "sentence"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"hello world\nthis is a README\n", "not a verifier log"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)) * 4, "binary"),
        (b"int main(void) { return 0; }\n", "not a verifier log"),
    ],
    ids=["empty", "blank", "prose", "binary", "c-source"],
)
def test_bad_input_gets_one_sentence_and_status_2(vdoctor, tmp_path, content, sentence):
    path = tmp_path / "input.txt"
    path.write_bytes(content)
    result = vdoctor("explain", path)
    assert result.status == 2
    assert sentence in result.stderr
    assert result.stderr.count("\n") == 1  # one sentence, one line
    assert result.stdout == ""


def test_log_cut_in_the_middle_is_reported(vdoctor, tmp_path):
    lines = SEED_LOG.read_text().splitlines(keepends=True)
    cut = tmp_path / "cut.log"
    cut.write_text("".join(lines[: len(lines) // 2]))
    result = vdoctor("explain", cut)
    assert result.status == 2
    assert "cut off" in result.stderr


def test_missing_file_is_a_usage_error(vdoctor, tmp_path):
    result = vdoctor("explain", tmp_path / "nope.log")
    assert result.status == 2 and "no file" in result.stderr


def test_unknown_lines_are_reported_not_fatal(vdoctor, tmp_path):
    text = SEED_LOG.read_text().replace(
        "24: (05) goto pc+4", "24: (05) goto pc+4\n25: (ee) frobnicate r9 with r3 ; R9=scalar()"
    )
    odd = tmp_path / "odd.log"
    odd.write_text(text)
    result = vdoctor("explain", odd, "--json")
    assert result.status == 0
    out = result.json()
    assert out["error"]["class"] == "scalar-deref"
    assert [u["text"] for u in out["log"]["unparsed_lines"]] == ["25: (ee) frobnicate r9 with r3 ; R9=scalar()"]


BPFTOOL = ROOT / "fixtures" / "bpftool"


def test_bpftool_output_with_two_programs_keeps_verdicts_apart(vdoctor):
    result = vdoctor("explain", BPFTOOL / "two_programs.log", "--json")
    assert result.status == 0
    out = result.json()
    assert out["program"] == "bad" and out["error"]["class"] == "null-deref"
    assert "bpf_map_lookup_elem(&seen" in out["culprit"]["source"]["text"]
    verdicts = {p["program"]: p["verdict"] for p in out["programs"]}
    assert verdicts == {"good": "accepted", "bad": "rejected"}


def test_bpftool_debug_output_of_the_allocator(vdoctor):
    out = vdoctor("explain", BPFTOOL / "linked_list_pool.log", "--json").json()
    assert out["error"]["class"] == "scalar-deref"
    assert "curr = curr->next" in out["culprit"]["source"]["text"]


def test_bpftool_output_of_a_load_error(vdoctor):
    """bpftool 7.5 carries libbpf 1.5, which mmaps global data: -524 before any verifier log."""
    out = vdoctor("explain", BPFTOOL / "global_spin_lock.log", "--json").json()
    assert out["error"]["class"] == "load-error"
    assert "-524" in out["error"]["message"]
    assert out["error"]["insn"] is None and out["culprit"] is None


def test_json_says_where_to_fix_how_sure_and_what_kind(vdoctor):
    """CLI.md "Where to fix": `fix_site` beside `culprit`, `confidence`, `kind`. A missing NULL
    check goes before the use, not at the lookup the culprit names."""
    log = ROOT / "fixtures" / "logs" / "6.18" / "missing_null_check.L1.log"
    out = vdoctor("explain", "--json", log).json()
    assert out["culprit"]["insn"] != out["fix_site"]["insn"] == out["error"]["insn"]
    assert out["fix_site"]["action"] == f"check `hits` for NULL before line {out['error']['source']['line']}"
    assert out["fix_site"]["source"] == out["error"]["source"]
    assert (out["confidence"], out["kind"]) == ("followed", "source-bug")
    text = vdoctor("explain", log).stdout
    assert "  fix at   instruction" in text and "  found    followed, source-bug" in text  # the column of error and culprit


def test_an_instruction_the_log_never_showed_is_said_so(vdoctor):
    """'insn 19 cannot be patched' comes after the walk, and a level-1 log shows no instruction
    19: the error line says the log does not show it instead of ending in a bare colon."""
    log = ROOT / "fixtures" / "logs" / "6.18" / "verifier_bug_patch_range.L1.log"
    result = vdoctor("explain", str(log))
    assert "at instruction 19 (the log does not show it)" in result.stdout
    assert not any(line.rstrip().endswith(":") and "at instruction" in line for line in result.stdout.splitlines())
