"""`--format html` in a real browser: headless Chromium (Debian's `chromium`, from
scripts/install-deps.sh) loads the page, runs its script, and the DOM it dumps must show
the marked source lines, the path with the offending register's history, and the state
of the selected instruction. A screenshot of the user's case is kept in
build/test-artifacts/ (not committed).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import ROOT

LOGS = ROOT / "fixtures" / "logs"
SOURCE = ROOT / "fixtures" / "programs" / "linked_list_pool.bpf.c"
SEED_LOG = ROOT / "fixtures" / "seed" / "linked_list_pool.verifier.log"
ARTIFACTS = ROOT / "build" / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
          "--disable-extensions", "--disable-background-networking"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/install-deps.sh)")


class _Rows(HTMLParser):
    """Every <tr> of the page: its attributes and its text; and each element's text by id."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []
        self.by_id: dict[str, dict] = {}
        self._open: list[dict] = []

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, **dict(attrs), "text": ""}
        if tag == "tr":
            self.rows.append(element)
        if "id" in element:
            self.by_id[element["id"]] = element
        if tag not in ("meta", "br", "img", "input"):
            self._open.append(element)

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data


def _dom(page: Path, fragment: str = "") -> _Rows:
    done = subprocess.run([CHROMIUM, *_FLAGS, "--virtual-time-budget=3000", "--dump-dom",
                           page.as_uri() + fragment], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'data-ready="yes"' in done.stdout, "the page's script did not run to its end"
    parsed = _Rows()
    parsed.feed(done.stdout)
    return parsed


def _classes(row: dict) -> set[str]:
    return set(row.get("class", "").split())


@pytest.fixture(scope="module")
def page_73(tmp_path_factory):
    """The 7.3 log of the linked-list pool (file:line, and the kernel's own diagnosis)."""
    from conftest import run_vdoctor

    page = tmp_path_factory.mktemp("html") / "linked_list_pool.html"
    result = run_vdoctor("explain", "--format", "html", "-o", page, LOGS / "7.3" / "linked_list_pool.L1.log",
                         "--source", SOURCE)
    assert result.status == 0, result.stderr
    return page


def test_page_is_self_contained(page_73):
    text = page_73.read_text()
    for outside in ("http:", "https:", "//fonts", "<link", " src="):
        assert outside not in text


def test_source_lines_are_marked(page_73):
    dom = _dom(page_73)
    lines = SOURCE.read_text().splitlines()
    source_rows = [r for r in dom.rows if "src" in _classes(r)]
    assert len(source_rows) == len(lines)
    (rejected,) = [r for r in source_rows if "rejected" in _classes(r)]
    (culprit,) = [r for r in source_rows if "culprit" in _classes(r)]
    assert "curr->free" in lines[int(rejected["data-line"]) - 1]
    assert lines[int(culprit["data-line"]) - 1].strip() == "curr = curr->next;"


def test_path_shows_the_history_and_the_state_at_the_error(page_73):
    dom = _dom(page_73)
    path = [r for r in dom.rows if "data-step" in r]
    assert len(path) > 5
    history = [r for r in path if "history" in _classes(r)]
    assert len(history) >= 2  # the culprit, then the rejected instruction
    assert "culprit" in _classes(history[0]) and "rejected" in _classes(history[-1])
    assert "R2=scalar" in history[0]["text"]
    # On load the failing instruction is selected and its state shown, R2 marked.
    assert "selected" in _classes(path[-1])
    state = dom.by_id["state-0"]
    assert state["data-insn"] == path[-1]["data-insn"]
    offending = [r for r in dom.rows if "offending" in _classes(r)]
    assert len(offending) == 1 and offending[0]["text"].startswith("R2")


def test_selecting_an_instruction_shows_its_state(page_73):
    first = _dom(page_73)
    (culprit,) = [r for r in first.rows if "data-step" in r and "culprit" in _classes(r)]
    dom = _dom(page_73, f"#step-0-{culprit['data-step']}")
    state = dom.by_id["state-0"]
    assert state["data-insn"] == culprit["data-insn"]
    assert "r2 = *(u64 *)(r2 +16)" in state["text"]
    assert "R2" in state["text"] and "scalar" in state["text"]


def test_without_the_program_the_logs_own_source_lines_are_marked(vdoctor):
    result = vdoctor("explain", "--format", "html", LOGS / "7.3" / "linked_list_pool.L1.log")
    assert result.status == 0, result.stderr
    rows = _Rows()
    rows.feed(result.stdout)
    source_rows = [r for r in rows.rows if "src" in _classes(r)]
    numbers = [int(r["data-line"]) for r in source_rows]
    assert numbers == sorted(numbers)
    (rejected,) = [r for r in source_rows if "rejected" in _classes(r)]
    (culprit,) = [r for r in source_rows if "culprit" in _classes(r)]
    assert "curr->free" in rejected["text"] and "curr = curr->next;" in culprit["text"]


def test_kernel_diagnosis_beside_ours(page_73):
    text = page_73.read_text()
    assert "The kernel's own diagnosis (7.3) beside ours" in text
    assert "The kernel names the same culprit." in text


def test_long_path_is_paged(tmp_path, monkeypatch):
    """Only the last MAX_PATH steps are kept, PAGE_ROWS to a page, the error's page first."""
    from verifier_doctor.analysis import diagnose
    from verifier_doctor.parsing.reader import read_log_file
    from verifier_doctor.render import html

    monkeypatch.setattr(html, "MAX_PATH", 25)
    monkeypatch.setattr(html, "PAGE_ROWS", 10)
    (trace,) = read_log_file(LOGS / "7.3" / "linked_list_pool.L2.log").programs
    page = tmp_path / "paged.html"
    page.write_text(html.html_page([(None, diagnose(trace), trace)], None, "paged"))
    dom = _dom(page)
    path = [r for r in dom.rows if "data-step" in r]
    assert [int(r["data-step"]) for r in path] == list(range(20, 25))
    assert "The path has older steps before these" in page.read_text()
    older = _dom(page, "#step-0-3")
    assert [int(r["data-step"]) for r in older.rows if "data-step" in r] == list(range(0, 10))


def test_a_kept_path_view_draws_the_page_the_trace_draws(monkeypatch):
    """`try` keeps each load's PathView instead of its trace: the page is the same, and the
    view holds the last MAX_PATH steps only (a 64 MiB level-2 log is not kept whole)."""
    from verifier_doctor.analysis import diagnose
    from verifier_doctor.parsing.reader import read_log_file
    from verifier_doctor.render import html

    monkeypatch.setattr(html, "MAX_PATH", 12)
    (trace,) = read_log_file(LOGS / "7.3" / "linked_list_pool.L2.log").programs
    diagnosis = diagnose(trace)
    view = html.path_view(diagnosis, trace)
    assert html.html_page([("kernel 7.3", diagnosis, view)], None, "kept") == html.html_page(
        [("kernel 7.3", diagnosis, trace)], None, "kept")
    assert len(view.data["rows"]) == len(view.data["states"]) == 12 and view.data["cut"]
    (accepted,) = read_log_file(LOGS / "7.3" / "accepted_counter.L2.log").programs
    assert html.path_view(diagnose(accepted), accepted) is None  # the page draws no path for it

def test_screenshot_of_the_users_case(tmp_path):
    """The user's own log and program: kept as build/test-artifacts/users_case.png."""
    from conftest import run_vdoctor

    page = tmp_path / "users_case.html"
    source = ROOT.parent / "shared" / "seed" / "linked_list_pool.bpf.c"
    args = ["--source", source] if source.is_file() else []
    result = run_vdoctor("explain", "--format", "html", "-o", page, SEED_LOG, *args)
    assert result.status == 0, result.stderr
    assert 'class="src rejected"' in page.read_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "users_case.png"
    shot.unlink(missing_ok=True)
    done = subprocess.run([CHROMIUM, *_FLAGS, "--window-size=1280,1000", f"--screenshot={shot}", page.as_uri()],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.kernel
def test_try_page_draws_the_loaded_programs_path(tmp_path):
    from conftest import kernel_loads_bpf, run_vdoctor

    if not kernel_loads_bpf():
        pytest.skip("the running kernel cannot load BPF here")
    page = tmp_path / "try.html"
    result = run_vdoctor("try", "--format", "html", "-o", page, ROOT / "tests" / "kernel_progs" / "reject_scalar.bpf.c")
    assert result.status == 1, result.stderr
    dom = _dom(page)
    assert [r for r in dom.rows if "src" in _classes(r) and "rejected" in _classes(r)]
    path = [r for r in dom.rows if "data-step" in r]
    assert path and "rejected" in _classes(path[-1])


@pytest.mark.qemu
def test_try_page_of_a_qemu_kernel_draws_its_path(tmp_path):
    """One real boot of 6.1 under QEMU: the kernel's section of the page draws the path as
    the host's does: the steps, the rejected instruction marked and selected with its state
    (R2 offending), R2's history back to the load that made it a scalar, each selectable."""
    from conftest import run_vdoctor

    page = tmp_path / "try-6.1.html"
    result = run_vdoctor("try", "--kernel", "6.1", "--format", "html", "-o", page,
                         ROOT / "fixtures" / "programs" / "linked_list_pool.bpf.c")
    assert result.status == 1, result.stderr
    text = page.read_text()
    assert '<span class="label">kernel 6.1</span>: rejected' in text
    rejected_at = re.search(r'<p class="error-line"><b>error</b> R2 invalid mem access [^<]* at instruction (\d+):',
                            text)
    assert rejected_at, "the page names no R2 error"
    dom = _dom(page)
    (rejected_line,) = [r for r in dom.rows if "src" in _classes(r) and "rejected" in _classes(r)]
    assert "curr->free" in rejected_line["text"]
    path = [r for r in dom.rows if "data-step" in r]
    assert len(path) > 5
    assert {"history", "rejected", "selected"} <= _classes(path[-1])
    assert path[-1]["data-insn"] == rejected_at.group(1)
    history = [r for r in path if "history" in _classes(r)]
    assert len(history) >= 2 and "culprit" in _classes(history[0])
    assert "R2=scalar" in history[0]["text"] and "curr = curr->next;" in history[0]["text"]
    state = dom.by_id["state-0"]
    assert state["data-insn"] == rejected_at.group(1)
    (offending,) = [r for r in dom.rows if "offending" in _classes(r)]
    assert offending["text"].startswith("R2") and "scalar" in offending["text"]
    # Selecting the culprit's step shows the state after it: R2 already a scalar there.
    culprit = history[0]
    chosen = _dom(page, f"#step-0-{culprit['data-step']}").by_id["state-0"]
    assert chosen["data-insn"] == culprit["data-insn"] != rejected_at.group(1)
    assert "R2" in chosen["text"] and "scalar" in chosen["text"]


@pytest.mark.kernel
def test_try_page_of_an_object_file_quotes_the_logs_source_lines(tmp_path):
    """An object loaded as it is has no C file to show: the page quotes the lines the log
    names (not the object's bytes)."""
    from conftest import kernel_loads_bpf, run_vdoctor

    if not kernel_loads_bpf():
        pytest.skip("the running kernel cannot load BPF here")
    source = ROOT / "tests" / "kernel_progs" / "reject_scalar.bpf.c"
    obj = tmp_path / "reject_scalar.bpf.o"
    built = subprocess.run([shutil.which("clang-19") or "clang", "-target", "bpf", "-O2", "-g", "-c", source,
                            "-o", obj], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert built.returncode == 0, built.stderr
    page = tmp_path / "object.html"
    result = run_vdoctor("try", "--format", "html", "-o", page, obj)
    assert result.status == 1, result.stderr
    rows = _Rows()
    rows.feed(page.read_text())
    quoted = [r["text"].strip() for r in rows.rows if "src" in _classes(r)]
    lines = {line.strip() for line in source.read_text().splitlines()}
    assert quoted and all(any(line in text for line in lines if line) for text in quoted), quoted
    assert [r for r in rows.rows if "src" in _classes(r) and "rejected" in _classes(r)]


def test_the_page_says_what_the_log_could_not_show(vdoctor):
    """The caveats text and JSON give (here: level 1 of 5.10 prints no state to follow) are
    on the page too."""
    import html
    import json
    import re

    log = LOGS / "5.10" / "stack_access_unbounded_read.L1.log"
    caveats = json.loads(vdoctor("explain", "--json", log).stdout)["caveats"]
    assert caveats
    page = vdoctor("explain", "--format", "html", log).stdout
    (listed,) = re.findall(r'<ul class="caveats">(.*?)</ul>', page, flags=re.S)
    assert [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", listed, flags=re.S)] == caveats
    seed = vdoctor("explain", "--format", "html", SEED_LOG).stdout
    assert 'class="caveats"' not in seed  # a log that shows everything has no notes


def test_fix_site_and_judgement_are_shown(page_73):
    """The page says where the change goes and how the culprit was found (issue 22)."""
    text = page_73.read_text()
    assert '<p class="fix-site"><b>fix at</b> instruction 31: turn the value loaded at line 47' in text
    assert '<span class="confidence">followed</span>, <span class="kind">source-bug</span>' in text


def test_the_why_and_the_fixes_render_their_markdown(vdoctor):
    """Code spans as <code>, lists as lists: no raw backticks on the page (issue 25, point 6)."""
    page = vdoctor("explain", SEED_LOG, "--format", "html").stdout
    why = re.search(r'<div class="why">(.*?)</div>', page, re.S).group(1)
    fixes = re.search(r'<ol class="fix">(.*?)</ol>', page, re.S).group(1)
    assert "`" not in why + fixes
    assert "<code>__u32 next_off</code>" in fixes
    assert "<code>curr = curr-&gt;next;</code>" in why


def test_markdown_in_the_prose_never_passes_html_through():
    from verifier_doctor.render.html import _inline, _prose

    assert _prose("a `<b>` and <script>x</script>\n\n- one\n- two\n") == (
        "<p>a <code>&lt;b&gt;</code> and &lt;script&gt;x&lt;/script&gt;</p>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n")
    assert _inline("use `bpf_loop()`") == "use <code>bpf_loop()</code>"
