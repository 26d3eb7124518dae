"""`--format html`: one self-contained page to look at a rejection instead of reading it.

For each program: the source with the rejected line and the culprit marked; the path the
verifier took to the error, one row per instruction, with the register and stack state
after it (select a row to see its state; the offending register's history is
highlighted; `#step-P-S` in the address selects step S of program P); the why and the
fix; and v7.3's own diagnosis beside ours when the log has it.

The page has no link to anything: styles, script and data are inside it. A 50 MB log has a
path of up to a million steps, so the page keeps the last MAX_PATH steps before the error
(the ones the diagnosis reads; each is parsed with the grammar to show its state) and pages
them PAGE_ROWS at a time, the error's page first. What the page draws of a program is its
PathView, which `try` keeps for each load (host and QEMU kernels alike) instead of the trace.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from ..analysis.compare import relation_to_kernel
from ..analysis.diagnosis import Diagnosis
from ..analysis.provenance import previous_step
from ..model import KernelPlace, OpKind, ProgramTrace, SourceLine, State, Step
from .text import line_in_source

MAX_PATH = 1000
PAGE_ROWS = 200
_CALL_CLOBBERED = (1, 2, 3, 4, 5)
_RELATIONS = {
    "agrees": "The kernel names the same culprit.",
    "ours-says-more": "verifier-doctor follows the value further back than the kernel's causal path.",
    "kernel-says-more": "The kernel's causal path names changes verifier-doctor does not.",
    "differ": "The kernel and verifier-doctor point at different instructions.",
}


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


@cache
def _markdown():
    """CommonMark (markdown-it-py, which rich brings) with raw HTML off: a log's or a
    program's words in the prose are text, never markup."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False})


def _prose(text: str) -> str:
    """The why and the fixes are Markdown (code spans, lists): as HTML blocks."""
    return _markdown().render(text)


def _inline(text: str) -> str:
    """A list item's Markdown (code spans) as inline HTML."""
    return _markdown().renderInline(text)


def _failing_step(trace: ProgramTrace, diagnosis: Diagnosis) -> Step | None:
    error = diagnosis.error
    if error is not None and error.insn is not None:
        found = trace.latest_step_at(error.insn)
        if found is not None:
            return found
    return trace.steps[-1] if trace.steps else None


def path_to(trace: ProgramTrace, failing: Step, limit: int | None = None) -> tuple[list[Step], bool]:
    """The steps the verifier took to `failing`, oldest first (the last `limit` of them,
    MAX_PATH by default), and whether older ones were left out."""
    limit = MAX_PATH if limit is None else limit
    path: list[Step] = []
    step: Step | None = failing
    while step is not None and len(path) < limit:
        path.append(step)
        step, _ = previous_step(trace, step)
    path.reverse()
    return path, step is not None


def _apply(state: State | None, regs: dict[int, str], stack: dict[int, str], replace: bool) -> None:
    if state is None:
        return
    if replace:
        regs.clear()
        stack.clear()
    for number, value in state.registers:
        regs[number] = str(value)
    for slot in state.stack:
        stack[slot.offset] = str(slot.value) if slot.value is not None else (slot.marks or "")


def _states_along(trace: ProgramTrace, path: list[Step]) -> list[list[list[str]]]:
    """For each step, what the log says of the registers and stack after it, carried along
    the path: a full state resets it, a step's printed registers update it, a call kills R1-R5."""
    regs: dict[int, str] = {}
    stack: dict[int, str] = {}
    out = []
    segment = None
    for step in path:
        if step.segment != segment:
            segment = step.segment
            _apply(trace.segments[segment].state, regs, stack, replace=True)
        _apply(step.state_before, regs, stack, replace=True)
        if step.insn.kind is OpKind.CALL:
            for number in _CALL_CLOBBERED:
                regs.pop(number, None)
        _apply(step.state_after, regs, stack, replace=False)
        out.append([[f"R{n}", regs[n]] for n in sorted(regs)]
                   + [[f"fp{o}", stack[o]] for o in sorted(stack, reverse=True)])
    return out


def _path_data(trace: ProgramTrace | None, diagnosis: Diagnosis) -> dict[str, Any] | None:
    if trace is None or not trace.steps or diagnosis.verdict != "rejected":
        return None
    failing = _failing_step(trace, diagnosis)
    if failing is None:
        return None
    path, cut = path_to(trace, failing)
    wanted = {item.insn for item in diagnosis.history}
    marks = [""] * len(path)
    for position in range(len(path) - 1, -1, -1):  # the latest visit of each history insn
        index = path[position].insn.index
        if index in wanted:
            marks[position] = "history"
            wanted.discard(index)
    culprit = diagnosis.culprit.insn if diagnosis.culprit else None
    for position, step in enumerate(path):
        if step.insn.index == culprit and marks[position] == "history":
            marks[position] = "history culprit"
    marks[-1] = "history rejected"
    values = {item.insn: f"{item.location}={item.value or '?'}" for item in diagnosis.history}
    rows = [[step.insn.index, step.insn.text, step.source.text if step.source else "", marks[i],
             values.get(step.insn.index, "") if "history" in marks[i] else ""]
            for i, step in enumerate(path)]
    return {
        "rows": rows,
        "states": _states_along(trace, path),
        "register": diagnosis.error.register if diagnosis.error else None,
        "cut": cut,
        "total_steps": len(trace.steps),
        "page_rows": PAGE_ROWS,
    }


@dataclass(frozen=True, slots=True)
class PathView:
    """What the page draws of one rejected program, and nothing more: the path data (the
    last MAX_PATH steps, states as text) and the source lines the log quotes. Bounded
    however long the log; `try` keeps one per load instead of the trace."""

    data: dict[str, Any] | None
    sources: tuple[tuple[int, SourceLine], ...]


def path_view(diagnosis: Diagnosis, trace: ProgramTrace | None) -> PathView | None:
    """The page's view of a program's trace; None when the page draws none (accepted)."""
    if trace is None or diagnosis.verdict != "rejected" or diagnosis.error is None:
        return None
    return PathView(_path_data(trace, diagnosis), trace.sources)


def _source_block(diagnosis: Diagnosis, program_source: list[str] | None, view: PathView | None) -> str:
    error = diagnosis.error
    culprit = diagnosis.culprit
    marked: dict[int, str] = {}
    if program_source:
        lines = program_source
        for history in diagnosis.history:
            number = line_in_source(history.source, lines)
            if number is not None:
                marked.setdefault(number, "history")
        if culprit is not None and (number := line_in_source(culprit.source, lines)) is not None:
            marked[number] = "culprit"
        if error is not None and (number := line_in_source(error.source, lines)) is not None:
            marked[number] = "rejected"
        numbered = list(enumerate(lines, 1))
    else:
        # No program file: the source lines the log itself quotes, once each, in the
        # file's order when the log numbers them, else in the instructions' order.
        seen: list[SourceLine] = []
        texts: set[str] = set()
        for _, line in (view.sources if view is not None else ()):
            if line.text not in texts:
                texts.add(line.text)
                seen.append(line)
        if seen and all(s.line is not None for s in seen):  # v6.2+
            seen.sort(key=lambda s: s.line)
        numbered = [(s.line or i, s.text) for i, s in enumerate(seen, 1)]
        for number, text in numbered:
            if error is not None and error.source is not None and text == error.source.text:
                marked[number] = "rejected"
            elif culprit is not None and culprit.source is not None and text == culprit.source.text:
                marked[number] = "culprit"
    if not numbered:
        return '<p class="none">No source: the log quotes none; give the program with --source.</p>'
    cost = _cost_of_lines(diagnosis, bool(program_source))
    rows = []
    for number, text in numbered:
        kind = marked.get(number, "")
        tag = {"rejected": "rejected here", "culprit": "culprit"}.get(kind, "")
        spent = cost.get(number if program_source else text) if cost is not None else None
        column = "" if cost is None else f'<td class="cost">{"" if spent is None else f"{spent:,}"}</td>'
        rows.append(f'<tr class="src {kind}" data-line="{number}"><td class="n">{number}</td>{column}'
                    f'<td><code>{_esc(text)}</code></td><td class="tag">{tag}</td></tr>')
    head = "" if cost is None else ('<thead><tr><th>line</th><th title="instructions the verifier processed '
                                    'at the line, with the header code it calls">cost</th><th></th><th></th>'
                                    '</tr></thead>')
    return f'<div class="srcbox"><table class="source">{head}{"".join(rows)}</table></div>'


def _cost_of_lines(diagnosis: Diagnosis, by_number: bool) -> dict | None:
    """The profile's processed instructions per line of the program (its own and those of
    the header code it calls), by line number in the program's file, or by the line's text
    when only the log's quotes are shown; None without a profile."""
    found = diagnosis.profile
    if found is None:
        return None
    cost: dict = {}
    for line in found.lines:
        if by_number and line.is_header:
            continue
        key = line.source.line if by_number else line.source.text
        cost[key] = cost.get(key, 0) + line.insns + line.inlined
    return cost


def _place(place: KernelPlace | None) -> str:
    if place is None:
        return ""
    where = f"{_esc(place.file)}:{place.line}"
    insn = f" insn {place.insn}: <code>{_esc(place.insn_text)}</code>" if place.insn is not None else ""
    note = f'<div class="note">{_esc(place.note)}</div>' if place.note else ""
    source = f"<div><code>{_esc(place.source)}</code></div>" if place.source else ""
    return f"<li>{where}{insn}{source}{note}</li>"


def _kernel_block(diagnosis: Diagnosis) -> str:
    kernel = diagnosis.kernel_diagnosis
    if kernel is None:
        return ""
    relation = relation_to_kernel(diagnosis)
    said = _RELATIONS.get(relation or "", "")
    culprit = diagnosis.culprit
    ours = "<p>no culprit named</p>" if culprit is None else (
        f"<p>culprit: instruction {culprit.insn}: <code>{_esc(culprit.insn_text)}</code> "
        f"({_esc(culprit.location)} {_esc(culprit.note)})</p>")
    return f"""<section class="kernel"><h3>The kernel's own diagnosis (7.3) beside ours</h3>
<p class="relation">{_esc(said)}</p>
<div class="columns"><div><h4>verifier-doctor</h4><p>{_esc(diagnosis.error.error_class)}:
{_esc(diagnosis.error.message)}</p>{ours}</div>
<div><h4>kernel</h4><p>{_esc(kernel.verdict)}</p><p>{_esc(kernel.reason)}</p>
<ul class="at">{_place(kernel.at)}</ul><p>Causal path:</p><ol class="causal">{"".join(map(_place, kernel.causal_path))}</ol>
<p>Suggestion: {_esc(kernel.suggestion)}</p></div></div></section>"""


def _program_block(number: int, label: str | None, diagnosis: Diagnosis, trace: ProgramTrace | PathView | None,
                   program_source: list[str] | None) -> tuple[str, dict[str, Any] | None]:
    name = _esc(diagnosis.program or "program")
    where = f" <span class=\"label\">{_esc(label)}</span>" if label else ""
    if diagnosis.verdict != "rejected" or diagnosis.error is None:
        # With a profile (--profile), the source and what each line cost the verifier.
        quoted = trace if isinstance(trace, PathView) or trace is None else PathView(None, trace.sources)
        cost = "" if diagnosis.profile is None else f"<h3>Source</h3>{_source_block(diagnosis, program_source, quoted)}"
        return f'<section class="program accepted"><h2>{name}{where}: accepted</h2>{cost}</section>', None
    error = diagnosis.error
    culprit = diagnosis.culprit
    view = trace if isinstance(trace, PathView) else path_view(diagnosis, trace)
    data = view.data if view is not None else None
    culprit_html = "" if culprit is None else (
        f'<p class="culprit-line"><b>culprit</b> instruction {culprit.insn}: <code>{_esc(culprit.insn_text)}</code>'
        f" ({_esc(culprit.location)} {_esc(culprit.note)})"
        f"{' — <code>' + _esc(culprit.source.text) + '</code>' if culprit.source else ''}</p>")
    judgement = diagnosis.judgement
    site = judgement.fix_site if judgement is not None else None
    fix_html = "" if site is None else (
        f'<p class="fix-site"><b>fix at</b>{"" if site.insn is None else f" instruction {site.insn}:"} '
        f"{_esc(site.action)}"
        f"{' — <code>' + _esc(site.source.text) + '</code>' if site.source else ''}</p>")
    if judgement is not None:
        fix_html += (f'<p class="judgement"><b>found</b> <span class="confidence">{_esc(judgement.confidence)}</span>, '
                     f'<span class="kind">{_esc(judgement.kind)}</span></p>')
    history = "".join(
        f'<li><span class="i">{item.insn}</span> <code>{_esc(item.text)}</code> '
        f'<span class="v">{_esc(item.location)}={_esc(item.value or "?")}</span> {_esc(item.note)}</li>'
        for item in diagnosis.history)
    fixes = "".join(f"<li>{_inline(text)}</li>" for text in diagnosis.suggestions)
    # What the log could not show (a cut beginning, no states at level 1): text and JSON say it too.
    notes = "".join(f"<li>{_inline(text)}</li>" for text in diagnosis.caveats)
    notes = f'<h3>Notes</h3><ul class="caveats">{notes}</ul>\n' if notes else ""
    if data is None:
        path = f'<h3>History of {_esc(error.register or "the value")}</h3><ol class="hist">{history}</ol>'
    else:
        cut = (f'<p class="cut">The path has older steps before these (the log has {data["total_steps"]:,} '
               f"steps in all); the last {len(data['rows']):,} are shown.</p>") if data["cut"] else ""
        path = f"""<h3>The path to the error ({len(data["rows"]):,} steps){"" if not error.register else
        f", {_esc(error.register)}'s history highlighted"}</h3>{cut}
<div class="pathview"><div><div class="pager"><button class="prev">&larr; older</button>
<span class="page"></span><button class="next">newer &rarr;</button></div>
<div class="pathbox"><table class="path" id="path-{number}"><thead><tr><th>insn</th><th>instruction</th><th>{_esc(error.register or "")}</th><th>source</th></tr></thead>
<tbody></tbody></table></div></div>
<div class="state" id="state-{number}"><h4>state after <span class="at"></span></h4><table><tbody></tbody></table></div>
</div>"""
    body = f"""<section class="program rejected" data-program="{number}">
<h2>{name}{where}: rejected <span class="class">[{_esc(error.error_class)}]</span></h2>
<p class="error-line"><b>error</b> {_esc(error.message)} at instruction {error.insn}: <code>{_esc(error.insn_text)}</code></p>
{culprit_html}
{fix_html}
<h3>Source</h3>{_source_block(diagnosis, program_source, view)}
{path}
<h3>Why</h3><div class="why">{_prose(diagnosis.explanation)}</div>
<h3>Fix</h3><ol class="fix">{fixes}</ol>
{notes}{_kernel_block(diagnosis)}
</section>"""
    return body, data


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#1d1d1f;background:#fff}
code,td.n,.i,.v{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
h1{font-size:1.3em}h2{font-size:1.15em;border-bottom:1px solid #ccc}.class{color:#b00020}
.label{background:#eef;padding:0 .4em;border-radius:3px}
table{border-collapse:collapse}td,th{padding:1px 6px;text-align:left;vertical-align:top}
.srcbox{max-height:17em;overflow:auto;border:1px solid #ddd;background:#fafafa}
table.source{width:100%}table.source td.cost{text-align:right;color:#555;padding-right:.6em}table.source code{white-space:pre}
tr.history td{background:#dce8ff}tr.src.history td{background:#eef3ff}
tr.culprit td{background:#ffe1a1}tr.rejected td{background:#ffcfcf}
table.path td.hv{color:#1a4fb0;font-weight:600;font-family:ui-monospace,Menlo,Consolas,monospace}td.tag{color:#b00020;font-weight:600;white-space:nowrap}
td.n{color:#888;text-align:right}
.pathview{display:flex;gap:1em;align-items:flex-start}.pathview>div:first-child{flex:3;min-width:0}
table.path tbody tr{cursor:pointer}table.path tbody tr:hover td{outline:1px solid #99b}
table.path tr.selected td{background:#cde!important}table.path td:nth-child(4){color:#555}
.pathbox{max-height:24em;overflow:auto;border:1px solid #ddd}
.state{flex:2;position:sticky;top:0;border:1px solid #ccc;padding:.4em;background:#fcfcff}
.state tr.offending td{background:#fdd;font-weight:600}
.columns{display:flex;gap:2em}.columns>div{flex:1;border:1px solid #ddd;padding:.5em}
.note{color:#555}.cut,.none{color:#777}.relation{font-style:italic}
"""

_SCRIPT = r"""
(function(){
  function el(tag, cls, text){var e=document.createElement(tag);if(cls)e.className=cls;
    if(text!==undefined)e.textContent=text;return e;}
  document.querySelectorAll('script.path-data').forEach(function(node){
    var d=JSON.parse(node.textContent), n=node.dataset.program;
    var table=document.getElementById('path-'+n), body=table.tBodies[0];
    var state=document.getElementById('state-'+n), section=table.closest('section');
    var pages=Math.max(1,Math.ceil(d.rows.length/d.page_rows)), selected=d.rows.length-1;
    var asked=/^#step-(\d+)-(\d+)$/.exec(location.hash);  // #step-PROGRAM-STEP selects a step
    if(asked&&asked[1]===n&&+asked[2]<d.rows.length)selected=+asked[2];
    var page=Math.floor(selected/d.page_rows);
    function show(i){
      selected=i;
      body.querySelectorAll('tr.selected').forEach(function(r){r.classList.remove('selected');});
      var row=body.querySelector('tr[data-step="'+i+'"]'); if(row)row.classList.add('selected');
      state.querySelector('.at').textContent='insn '+d.rows[i][0]+': '+d.rows[i][1];
      var tb=state.querySelector('tbody'); tb.textContent='';
      d.states[i].forEach(function(kv){var tr=el('tr', kv[0]===d.register?'offending':'');
        tr.appendChild(el('td','',kv[0]));tr.appendChild(el('td','',kv[1]));tb.appendChild(tr);});
      state.dataset.step=i; state.dataset.insn=d.rows[i][0];
    }
    function render(){
      body.textContent='';
      var lo=page*d.page_rows, hi=Math.min(d.rows.length,lo+d.page_rows);
      for(var i=lo;i<hi;i++){var r=d.rows[i], tr=el('tr', r[3]); tr.dataset.step=i; tr.dataset.insn=r[0];
        tr.appendChild(el('td','i',r[0]));tr.appendChild(el('td','',''));tr.lastChild.appendChild(el('code','',r[1]));
        tr.appendChild(el('td','hv',r[4])); tr.appendChild(el('td','',r[2])); tr.addEventListener('click',(function(k){return function(){show(k);};})(i));
        body.appendChild(tr);}
      section.querySelector('.page').textContent='steps '+(lo+1)+'-'+hi+' of '+d.rows.length;
      section.querySelector('.prev').disabled=page===0; section.querySelector('.next').disabled=page===pages-1;
      if(selected>=lo&&selected<hi)show(selected);
    }
    section.querySelector('.prev').addEventListener('click',function(){if(page>0){page--;render();}});
    section.querySelector('.next').addEventListener('click',function(){if(page<pages-1){page++;render();}});
    render(); show(selected);
    var box=table.parentNode, last=body.querySelector('tr.selected');  // the error in view
    if(last)box.scrollTop=Math.max(0,last.offsetTop-box.clientHeight+2*last.offsetHeight);
  });
  document.querySelectorAll('.srcbox').forEach(function(box){  // the rejected line in view
    var row=box.querySelector('tr.rejected')||box.querySelector('tr.culprit');
    if(row)box.scrollTop=Math.max(0,row.offsetTop-box.clientHeight/3);});
  document.body.dataset.ready='yes';
})();
"""


def _json_for_script(data: dict[str, Any]) -> str:
    # Inside <script>, "</" would end the element: escape it (and the other HTML-significant bytes).
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e").replace(
        "&", "\\u0026")


def html_page(shown: list[tuple[str | None, Diagnosis, ProgramTrace | PathView | None]],
              program_source: list[str] | None, title: str) -> str:
    """The page of (label, diagnosis, trace, its PathView, or None) triples, from `explain`
    or `try`."""
    blocks = []
    scripts = []
    for number, (label, diagnosis, trace) in enumerate(shown):
        block, data = _program_block(number, label, diagnosis, trace, program_source)
        blocks.append(block)
        if data is not None:
            scripts.append(f'<script type="application/json" class="path-data" data-program="{number}">'
                           f"{_json_for_script(data)}</script>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>vdoctor: {_esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{_STYLE}</style></head>
<body><h1>verifier-doctor: {_esc(title)}</h1>
{"".join(blocks)}
{"".join(scripts)}
<script>{_SCRIPT}</script>
</body></html>
"""
