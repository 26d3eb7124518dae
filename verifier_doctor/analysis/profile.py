"""Where the verifier's budget went: a cost profile of a level-2 log.

Pure functions over the trace model. Every step is one processed instruction (the
kernel's `insn_processed` counts the same walk), so counting steps by source line, by
file and by loop says where the budget went:

- lines: the steps at each source line the log prints; code inlined from a header (a
  line of a `.h` file) is also counted at the user's line that called it (its call site:
  the last line of a non-header file on the same path before it);
- loops: found from the back edges the verifier walked (a step followed on the same
  path and frame by a step at the same or a lower instruction, or a path popped from the
  verifier's stack that goes back: "from 229 to 73"); the body is the instructions from
  the head to the latest latch. Per head visit: the steps in the body, and the paths the
  verifier walked from a branch in the body (branches whose both sides it explored);
- the largest trip count that fits the kernel's limits: 1,000,000 processed instructions
  (BPF_COMPLEXITY_LIMIT_INSNS) and 8,192 pending branches (BPF_COMPLEXITY_LIMIT_JMP_SEQ:
  each undecided branch leaves its other side on the stack while the walk goes on);
- why the states at a hot loop head did not prune: the registers and stack slots whose
  values differ between the last visits of the head (a state prunes only against an
  equal one: a precise scalar of another value, a pointer at another offset, or a slot
  written on one path only each make it new), and the instruction that set each.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..model import OpKind, ProgramTrace, RegValue, SegmentKind, SourceLine, StackSlot, Step

INSN_LIMIT = 1_000_000  # BPF_COMPLEXITY_LIMIT_INSNS, since 5.2 (privileged)
JUMP_LIMIT = 8192  # BPF_COMPLEXITY_LIMIT_JMP_SEQ
VISITS_COMPARED = 4  # the last visits of a loop head whose states are compared
HOT_LOOPS = 3  # loops whose pruning is explained
WALK_LIMIT = 6000
_NO_TRIP = -(1 << 62)  # a step before the loop  # steps walked back from a visit to rebuild its state


@dataclass(frozen=True, slots=True)
class LineCost:
    source: SourceLine
    insns: int  # steps at this line
    states: int  # paths the verifier took from its stack at this line ("from X to Y")
    inlined: int = 0  # steps of header code called from this line (user lines only)

    @property
    def is_header(self) -> bool:
        return is_header(self.source)


@dataclass(frozen=True, slots=True)
class FileCost:
    file: str | None
    insns: int


@dataclass(frozen=True, slots=True)
class Difference:
    """A register or stack slot whose value differs between visits of a loop head."""

    location: str  # "R9", "fp-32"
    kind: str  # "counter", "precise", "pointer-offset", "one-path-slot"
    values: tuple[str, ...]  # at the visits compared, oldest first
    insn: int | None  # the instruction that last set it before the latest visit
    insn_text: str | None
    source: SourceLine | None
    words: str


@dataclass(frozen=True, slots=True)
class HeaderCall:
    """Header code run inside a loop, counted at the user's line that calls it."""

    call_site: SourceLine
    file: str | None
    insns_per_iteration: float


@dataclass(frozen=True, slots=True)
class Loop:
    head: int
    latch: int
    source: SourceLine | None
    visits: int
    insns: int
    insns_per_iteration: float
    pending_branches_per_iteration: float
    max_iterations: int
    limit: str  # "insns" (1M processed instructions) or "jumps" (8192 pending branches)
    differences: tuple[Difference, ...] = ()
    header_calls: tuple[HeaderCall, ...] = ()
    fixes: tuple[str, ...] = ()
    latches: tuple[int, ...] = ()  # the back edges' sources (a loop with `continue` has several)


@dataclass(frozen=True, slots=True)
class Profile:
    program: str | None
    processed_insns: int  # the kernel's count (stats line), else the steps
    steps: int  # the steps the log holds (fewer when the kernel kept only its end)
    paths: int  # paths taken from the verifier's stack
    complete: bool  # the log holds the whole walk (steps == processed)
    lines: tuple[LineCost, ...]
    files: tuple[FileCost, ...]
    loops: tuple[Loop, ...]


def is_header(source: SourceLine | None) -> bool:
    return source is not None and source.file is not None and source.file.endswith(".h")


def profile(trace: ProgramTrace) -> Profile:
    """The cost profile of one program's log (most useful at level 2, where every path
    the verifier walked is printed)."""
    steps = trace.steps
    by_source: Counter = Counter()  # id(SourceLine) -> steps
    inlined: Counter = Counter()  # id(user SourceLine) -> header steps called from it
    sources: dict[int, SourceLine] = {}
    by_index: Counter = Counter()
    back_edges: Counter = Counter()  # (latch, head) -> times walked
    call_site: list[SourceLine | None] = [None] * len(steps)
    previous: Step | None = None
    site: SourceLine | None = None
    for step in steps:
        index = step.index
        by_index[index] += 1
        source = step.source
        if previous is not None and previous.segment == step.segment:
            if step.frame == previous.frame and index is not None and previous.index is not None \
                    and index <= previous.index:
                back_edges[(previous.index, index)] += 1
        else:
            parent = trace.segments[step.segment].parent_step
            site = call_site[parent] if parent is not None else None
        if source is not None:
            key = id(source)
            by_source[key] += 1
            sources[key] = source
            if is_header(source):
                if site is not None:
                    inlined[id(site)] += 1
            else:
                site = source
        call_site[step.number] = site
        previous = step
    popped_at: Counter = Counter()  # source insn of each path taken from the stack
    started_at: Counter = Counter()
    paths = 0
    for segment in trace.segments:
        if segment.kind is SegmentKind.BRANCH and segment.from_insn is not None:
            paths += 1
            popped_at[segment.from_insn] += 1
            if segment.start_insn is not None:
                started_at[segment.start_insn] += 1
                if segment.start_insn <= segment.from_insn:
                    back_edges[(segment.from_insn, segment.start_insn)] += 1
    states_by_source = _states_by_source(trace, started_at)
    lines = tuple(sorted(
        (LineCost(sources[key], count, states_by_source.get(key, 0), inlined.get(key, 0))
         for key, count in by_source.items()),
        key=lambda line: (-(line.insns + line.inlined), line.source.file or "", line.source.line or 0)))
    files: Counter = Counter()
    for line in lines:
        files[line.source.file] += line.insns
    processed = trace.stats.processed_insns if trace.stats is not None else len(steps)
    loops = _loops(trace, back_edges, by_index, popped_at, call_site, processed)
    return Profile(
        program=trace.name,
        processed_insns=processed,
        steps=len(steps),
        paths=paths,
        complete=_whole(trace),
        lines=lines,
        files=tuple(FileCost(name, count) for name, count in files.most_common()),
        loops=loops,
    )


def _whole(trace: ProgramTrace) -> bool:
    """The log holds the walk from the program's first instruction (a log the kernel kept
    only the end of starts anywhere). Its steps are still fewer than the kernel's count:
    a visit the verifier pruned is counted, and printed as "N: safe", not as a step."""
    return bool(trace.steps) and trace.steps[0].index == 0 and trace.segments[0].start_insn == 0


def _states_by_source(trace: ProgramTrace, started_at: Counter) -> dict[int, int]:
    """Paths taken from the stack, by the source line of the instruction they start at."""
    counts: Counter = Counter()
    for index, count in started_at.items():
        step = trace.latest_step_at(index)
        if step is not None and step.source is not None:
            counts[id(step.source)] += count
    return counts


def _prefix(counts: Counter, size: int) -> list[int]:
    running = [0] * (size + 1)
    for index in range(size):
        running[index + 1] = running[index] + counts.get(index, 0)
    return running


def _loops(trace: ProgramTrace, back_edges: Counter, by_index: Counter, popped_at: Counter,
           call_site: list[SourceLine | None], processed: int) -> tuple[Loop, ...]:
    if not back_edges:
        return ()
    edges = sorted({(head, latch) for latch, head in back_edges if _is_jump(trace, latch)})
    if not edges:
        return ()
    size = max(max(latch for _, latch in edges), max((i for i in by_index if i is not None), default=0)) + 1
    insns_before = _prefix(by_index, size)
    pops_before = _prefix(popped_at, size)
    total_steps = max(len(trace.steps), 1)
    found = []
    for head, latch in edges:
        visits = by_index.get(head, 0)
        if visits < 2:
            continue  # walked back once: not a loop the verifier iterated
        insns = insns_before[latch + 1] - insns_before[head]
        pending = pops_before[latch + 1] - pops_before[head]
        per_iteration = insns / visits
        pending_per_iteration = pending / visits
        # The rest of the program's cost, scaled to the kernel's count when the log kept
        # only its end.
        elsewhere = processed * (1 - insns / total_steps)
        max_iterations, limit = _limits(per_iteration, pending_per_iteration, elsewhere)
        found.append(Loop(
            head=head, latch=latch, latches=(latch,), source=_loop_line(trace, head, latch),
            visits=visits, insns=insns,
            insns_per_iteration=round(per_iteration, 1),
            pending_branches_per_iteration=round(pending_per_iteration, 2),
            max_iterations=max_iterations,
            limit=limit,
        ))
    found.sort(key=lambda loop: -loop.insns)
    explained: list[Loop] = []
    counters: dict[tuple, int] = {}  # (head, counter, its writer) -> position in explained
    for loop in found:
        if len(counters) >= HOT_LOOPS or len(explained) >= HOT_LOOPS * 2:
            explained.append(loop)
            continue
        differences = _differences(trace, loop)
        counter = next(((d.location, d.insn) for d in differences if d.kind == "counter"), None)
        key = (loop.head, counter)
        if counter is not None and key in counters:
            # Another back edge of a loop already found (a `continue`): one loop, two latches.
            at = counters[key]
            known = explained[at]
            explained[at] = _with(known, latch=max(known.latch, loop.latch), latches=known.latches + loop.latches)
            continue
        counted = next((d.source for d in differences if d.kind == "counter" and d.source is not None
                        and not is_header(d.source)), None)
        # The counter's `i++` is on the `for` line itself, whatever the compiler shares.
        explained.append(_with(loop, differences=differences, source=counted or loop.source))
        counters[key if counter is not None else (loop.head, loop.latch)] = len(explained) - 1
    finished = []
    for loop in explained:
        if loop.differences or loop in explained[:HOT_LOOPS]:
            loop = _per_trip(trace, loop, loop.differences, processed)
            calls = _header_calls(trace, loop, call_site)
            loop = _with(loop, header_calls=calls, fixes=_fixes(loop, loop.differences, calls))
        finished.append(loop)
    finished.sort(key=lambda loop: -loop.insns)
    return tuple(finished)


def _loop_line(trace: ProgramTrace, head: int, latch: int) -> SourceLine | None:
    """The loop's line: the latch's (the jump back is the `for`/`while` condition's code;
    nested loops compiled with one head share the head's line), unless that is a header's."""
    for index in (latch, head):
        step = trace.latest_step_at(index)
        if step is not None and step.source is not None and not is_header(step.source):
            return step.source
    step = trace.latest_step_at(head)
    return step.source if step is not None else None


def _is_jump(trace: ProgramTrace, index: int) -> bool:
    step = trace.latest_step_at(index)
    return step is not None and step.insn.kind in (OpKind.JUMP, OpKind.COND_JUMP)


def _with(loop: Loop, **changes) -> Loop:
    return Loop(**{**{name: getattr(loop, name) for name in Loop.__slots__}, **changes})


def _limits(per_iteration: float, pending_per_iteration: float, elsewhere: float) -> tuple[int, str]:
    """The largest trip count that fits both limits, and the one that binds."""
    by_insns = int(max(INSN_LIMIT - elsewhere, 0) / per_iteration) if per_iteration else INSN_LIMIT
    if pending_per_iteration:
        by_jumps = int(JUMP_LIMIT / pending_per_iteration)
        if by_jumps < by_insns:
            return by_jumps, "jumps"
    return by_insns, "insns"


def _per_trip(trace: ProgramTrace, loop: Loop, differences: tuple[Difference, ...], processed: int) -> Loop:
    """The cost of one trip around the loop.

    The head is visited more than once per trip (each undecided branch's other side comes
    back to it, and the verifier walks those paths after the deepest one), so visits are
    not trips. Each step gets the trip its path is on: 0 where the path enters the head
    from outside the body, one more each time it comes back over a back edge; a path taken
    from the stack goes on with the trip of the step it branched from. A trip's cost is
    every step on it, the paths it left pending and the code they run after the loop
    included; the profile takes the median over the trips between the first and the last
    (both are partial). In a whole log the steps are scaled to the kernel's count, which
    also counts the visits it pruned."""
    steps = trace.steps
    if not steps:
        return loop
    cost, reached, deepest, trip = _trip_costs(trace, loop, differences)
    if len(cost) < 3:
        return loop
    middle = sorted(cost[k] / max(len(reached.get(k, ())), 1) for k in sorted(cost)[1:-1])
    median = middle[len(middle) // 2]
    scale = processed / len(steps) if _whole(trace) else 1.0
    per_iteration = median * scale
    pending_per_iteration = _pushed_on_path(trace, deepest, loop) / max(trip[deepest.number], 1)
    elsewhere = max(processed - sum(cost.values()) * scale, 0) if scale != 1.0 \
        else processed * (1 - sum(cost.values()) / len(steps))
    max_iterations, limit = _limits(per_iteration, pending_per_iteration, elsewhere)
    return _with(loop, insns_per_iteration=round(per_iteration, 1),
                 pending_branches_per_iteration=round(pending_per_iteration, 2),
                 max_iterations=max_iterations, limit=limit)


def _trip_costs(trace: ProgramTrace, loop: Loop, differences: tuple[Difference, ...]):
    """The steps of each trip, the number of entries into the loop that reached each trip,
    and the head visit of the deepest trip."""
    steps = trace.steps
    counter = _counter(trace, loop, differences)
    trip = [_NO_TRIP] * len(steps)
    entry = [0] * len(steps)  # which entry into the loop a step's path is on
    cost: Counter = Counter()
    reached: dict[int, set[int]] = {}
    entries = 0
    head, latches = loop.head, set(loop.latches or (loop.latch,))
    frame = None
    previous = None
    deepest = None
    for step in steps:
        segment = None
        if previous is not None and previous.segment == step.segment:
            before = previous
        else:
            segment = trace.segments[step.segment]
            before = steps[segment.parent_step] if segment.parent_step is not None else None
        current = trip[before.number] if before is not None else _NO_TRIP
        which = entry[before.number] if before is not None else 0
        if segment is not None and counter is not None and segment.kind is SegmentKind.BRANCH:
            # A path taken from the stack: its own state says which trip it is on.
            current = _trip_of(segment.state.reg(counter[0]) if segment.state else None, counter, current)
        if step.index == head and (frame is None or step.frame == frame):
            frame = step.frame
            inside = before is not None and before.frame == frame and before.index is not None \
                and head <= before.index <= loop.latch and current != _NO_TRIP
            if inside and before.index in latches:
                current += 1  # over this loop's back edge: the next trip
            elif not inside:
                # Entered from outside (an inner loop: once per trip of the outer one); the
                # counter's value says which trip, in a log the kernel kept the end of.
                entries += 1
                which = entries
                current = _trip_of(_register_at(trace, step, counter[0]), counter, 0) if counter else 0
            reached.setdefault(current, set()).add(which)
            if deepest is None or current > trip[deepest.number]:
                deepest = step
        trip[step.number] = current
        entry[step.number] = which
        if current != _NO_TRIP:
            cost[current] += 1
        previous = step
    return cost, reached, deepest, trip


def _counter(trace: ProgramTrace, loop: Loop, differences: tuple[Difference, ...]) -> tuple[int, int, int] | None:
    """The loop's counter as (register, its value at the first visit of the head, stride)."""
    found = next((d for d in differences if d.kind == "counter" and d.location.startswith("R")
                  and d.insn is not None and loop.head <= d.insn <= loop.latch), None)
    if found is None or found.insn is None:
        return None
    register = int(found.location[1:])
    first = trace.latest_step_at(loop.head)
    for step in trace.steps:
        if step.index == loop.head:
            first = step
            break
    value = _register_at(trace, first, register) if first is not None else None
    writer = trace.latest_step_at(found.insn)
    stride = writer.insn.imm if writer is not None and writer.insn.imm else 1
    if value is None or value.const is None:
        return None
    return register, value.const, stride if writer.insn.op == "+=" else -stride


def _trip_of(value: RegValue | None, counter: tuple[int, int, int], otherwise: int) -> int:
    """The trip a counter's value says (its value over the stride: a log the kernel kept
    only the end of starts at any trip)."""
    if value is None or value.const is None or not value.is_scalar:
        return otherwise
    return value.const // abs(counter[2])


def _pushed_on_path(trace: ProgramTrace, deepest: Step, loop: Loop) -> int:
    """The undecided branches along the path to the deepest trip: each left its other
    side on the verifier's stack while the walk went on (the 8192-jump limit counts them)."""
    on_path = {step.number for step in _path_back(trace, deepest)}
    return sum(1 for segment in trace.segments
               if segment.kind is SegmentKind.BRANCH and segment.parent_step in on_path
               and segment.from_insn is not None and loop.head <= segment.from_insn <= loop.latch)


def _register_at(trace: ProgramTrace, step: Step, register: int, limit: int = 64) -> RegValue | None:
    """A register's value just before `step`, from the states printed nearest before it."""
    state = step.state_before
    if state is not None and state.reg(register) is not None:
        return state.reg(register)
    state = step.state_after
    if state is not None and state.reg(register) is not None and step.insn.dst != register:
        return state.reg(register)
    current = step
    for _ in range(limit):
        number = current.number
        if number == 0 or trace.steps[number - 1].segment != current.segment:
            segment_state = trace.segments[current.segment].state
            return segment_state.reg(register) if segment_state is not None else None
        current = trace.steps[number - 1]
        for state in (current.state_after, current.state_before):
            if state is not None and state.reg(register) is not None:
                return state.reg(register)
    return None


def _header_calls(trace: ProgramTrace, loop: Loop, call_site: list[SourceLine | None]) -> tuple[HeaderCall, ...]:
    """Header code run in the loop's body, by the user's line that called it, as its share
    of a trip's instructions."""
    counts: Counter = Counter()
    keys: dict[tuple, tuple[SourceLine, str | None]] = {}
    body = 0
    for step in trace.steps:
        if step.index is None or not loop.head <= step.index <= loop.latch:
            continue
        body += 1
        site = call_site[step.number]
        if site is None or not is_header(step.source):
            continue
        key = (site.file, site.line, site.text, step.source.file)
        counts[key] += 1
        keys[key] = (site, step.source.file)
    return tuple(HeaderCall(keys[key][0], keys[key][1], round(loop.insns_per_iteration * count / body, 1))
                 for key, count in counts.most_common())


# --- why the states at a loop head did not prune ------------------------------------------

@dataclass(frozen=True, slots=True)
class _Known:
    value: RegValue | None
    slot: StackSlot | None
    setter: Step | None  # the step whose printed state gave it (None: a full state)


def _state_at(trace: ProgramTrace, visit: Step, wanted: set[str]) -> dict[str, _Known]:
    """The registers and stack slots of the visit's frame just before it, from the
    nearest states printed on its path (each instruction's touched registers at level 2,
    the full state where a path was taken from the stack)."""
    known: dict[str, _Known] = {}
    frame = visit.frame

    def take(state, setter: Step | None, full: bool) -> bool:
        if state is None or state.frame not in (frame, 0) and full:
            return False
        for regno, value in state.registers:
            known.setdefault(f"R{regno}", _Known(value, None, setter))
        for slot in state.stack:
            known.setdefault(f"fp{slot.offset}", _Known(slot.value, slot, setter))
        return full

    if take(visit.state_before, None, True):
        return known
    after = visit.state_after
    if after is not None:  # what the head instruction read holds before it too
        written = visit.insn.dst
        for regno, value in after.registers:
            if regno != written:
                known.setdefault(f"R{regno}", _Known(value, None, None))
    current = visit
    for _ in range(WALK_LIMIT):
        if wanted <= known.keys():
            break
        number = current.number
        before = trace.steps[number - 1] if number > 0 else None
        if before is None or before.segment != current.segment:
            segment = trace.segments[current.segment]
            if take(segment.state, None, True) or segment.parent_step is None:
                break
            before = trace.steps[segment.parent_step]
        current = before
        if current.frame != frame:
            continue
        take(current.state_after, current, False)
        if take(current.state_before, None, True):
            break
    return known


_IGNORED_ATTRS = ("id", "ref_obj_id")  # renumbered between states: the kernel maps them


def _same(a: _Known | None, b: _Known | None) -> bool:
    if a is None or b is None:
        return a is b
    if a.value is None or b.value is None:
        return a.value is b.value and (a.slot.marks if a.slot else None) == (b.slot.marks if b.slot else None)
    return (a.value.kind, a.value.const, _attrs(a.value)) == (b.value.kind, b.value.const, _attrs(b.value))


def _attrs(value: RegValue) -> tuple:
    return tuple((key, str(v)) for key, v in value.attrs if key not in _IGNORED_ATTRS)


def _shown(known: _Known | None) -> str:
    if known is None:
        return "not written"
    if known.value is not None:
        value = known.value
        if value.is_scalar and value.const is not None:
            return str(value.const)
        inner = ",".join(f"{key}={v}" for key, v in _attrs(value))
        return f"{value.kind}({inner})"
    slot = known.slot
    return slot.marks if slot is not None and slot.marks else "?"


def _live(trace: ProgramTrace, visit: Step, limit: int = 400) -> set[str]:
    """The registers and stack slots read before they are written on the path after the
    visit: the ones a state at the head is compared on (the kernel ignores dead ones)."""
    live: set[str] = set()
    dead: set[str] = set()
    for step in trace.steps[visit.number: visit.number + limit]:
        if step.segment != visit.segment or step.frame != visit.frame:
            break
        insn = step.insn
        read = [f"R{r}" for r in insn.srcs]
        if insn.mem is not None:
            read.append(f"R{insn.mem.base}")
            if insn.mem.base == 10 and insn.dst is not None:  # a fill: reads the slot
                read.append(f"fp{insn.mem.offset - insn.mem.offset % 8 if insn.mem.offset % 8 else insn.mem.offset}")
        for name in read:
            if name not in dead:
                live.add(name)
        if insn.dst is not None:
            dead.add(f"R{insn.dst}")
        if insn.mem is not None and insn.mem.base == 10 and insn.dst is None:
            dead.add(f"fp{insn.mem.offset}")
    return live


def _differences(trace: ProgramTrace, loop: Loop) -> tuple[Difference, ...]:
    """What the latest visit of the loop head differs in from the most similar earlier
    visit (every visit the log shows was not pruned: it matched no state kept there)."""
    visits: list[Step] = []
    for step in reversed(trace.steps):
        if step.index == loop.head and (not visits or step.frame == visits[0].frame) \
                and _came_from(trace, step) == loop.latch:
            visits.append(step)
            if len(visits) == VISITS_COMPARED:
                break
    if len(visits) < 2:
        return ()
    latest, earlier = visits[0], visits[1:]
    live = _live(trace, latest) - {"R10"}
    now = _state_at(trace, latest, live)
    best: list[Difference] | None = None
    counters: dict[str, Difference] = {}
    for visit in earlier:
        then = _state_at(trace, visit, live)
        found = []
        for name in sorted(live & (set(now) | set(then)), key=_location_order):
            if name == "R10" or _same(then.get(name), now.get(name)):
                continue
            difference = _difference(name, then.get(name), now.get(name), lambda: _writer(trace, latest, name))
            if difference is not None:
                found.append(difference)
                if difference.kind == "counter":
                    counters.setdefault(name, difference)
        if found and (best is None or len(found) < len(best)):
            best = found
    # The nearest earlier state's differences, and the counter that tells trips apart
    # (the nearest state is often one of the same trip, reached on another path).
    chosen = {d.location: d for d in best or ()}
    for name, difference in counters.items():
        chosen.setdefault(name, difference)
    return tuple(sorted(chosen.values(), key=lambda d: _location_order(d.location)))


def _came_from(trace: ProgramTrace, step: Step) -> int | None:
    """The instruction the path came to `step` from."""
    if step.number > 0 and trace.steps[step.number - 1].segment == step.segment:
        return trace.steps[step.number - 1].index
    return trace.segments[step.segment].from_insn


def _location_order(name: str) -> tuple[int, int]:
    return (0, int(name[1:])) if name.startswith("R") else (1, -int(name[2:]))


def _path_back(trace: ProgramTrace, step: Step):
    """The steps before `step` on its path, nearest first."""
    current = step
    while True:
        number = current.number
        before = trace.steps[number - 1] if number > 0 else None
        if before is None or before.segment != current.segment:
            parent = trace.segments[current.segment].parent_step
            if parent is None:
                return
            before = trace.steps[parent]
        yield before
        current = before


def _writer(trace: ProgramTrace, visit: Step, name: str) -> Step | None:
    """The last step before the visit, on its path and in its frame, that wrote `name`."""
    for count, step in enumerate(_path_back(trace, visit)):
        if count >= WALK_LIMIT:
            return None
        if step.frame != visit.frame:
            continue
        insn = step.insn
        if name.startswith("R") and insn.dst == int(name[1:]):
            return step
        if name.startswith("fp") and insn.mem is not None and insn.mem.base == 10 and insn.dst is None \
                and insn.mem.offset == int(name[2:]):
            return step
    return None


def _difference(name: str, then: _Known | None, now: _Known | None, find_writer) -> Difference | None:
    values = (_shown(then), _shown(now))
    setter = find_writer()
    insn = setter.insn if setter is not None else None
    where = f" (set by instruction {setter.index}: `{insn.text}`)" if insn is not None else ""
    old, new = (k.value if k is not None else None for k in (then, now))
    shown = f"{values[0]} then {values[1]}"
    if name.startswith("fp") and (old is None) != (new is None) and (then is None or now is None
                                                                   or then.slot is None or now.slot is None):
        kind, words = "one-path-slot", (f"stack slot {name} is written on one path to the head and not on the "
                                        f"other ({shown}): the states differ in what the stack holds")
    elif old is None or new is None:
        return None
    elif old.is_scalar and new.is_scalar:
        if old.const is not None and new.const is not None and insn is not None and insn.imm is not None \
                and insn.op in ("+=", "-=") and insn.dst == int(name[1:]) if name.startswith("R") else False:
            kind, words = "counter", (f"{name} is a loop counter the verifier tracks exactly ({shown}){where}: "
                                      f"its value decides the loop's exit, so it is precise and every trip is a "
                                      f"new state")
        elif old.const is not None or new.const is not None or old.precise or new.precise:
            kind, words = "precise", (f"{name} holds {shown} at the head{where}: a branch or an access needs "
                                      f"its exact value (it is precise), so states with another value do "
                                      f"not prune")
        else:
            return None  # imprecise ranges: the verifier ignores them when pruning
    elif old.kind == new.kind:
        kind, words = "pointer-offset", (f"{name} is a {new.kind} pointer at another offset ({shown}){where}: "
                                         f"a pointer whose offset changes is a new state")
    else:
        kind, words = "precise", f"{name} holds another kind of value ({shown}){where}"
    return Difference(name, kind, values, setter.index if setter else None, insn.text if insn else None,
                      setter.source if setter else None, words)


# --- what to do about it -----------------------------------------------------------------

def _fixes(loop: Loop, differences: tuple[Difference, ...], calls: tuple[HeaderCall, ...]) -> tuple[str, ...]:
    fixes: list[str] = []
    header_cost = sum(call.insns_per_iteration for call in calls)
    if calls and header_cost >= loop.insns_per_iteration / 2:
        call = calls[0]
        fixes.append(
            f"Most of each iteration ({header_cost:.0f} of {loop.insns_per_iteration:.0f} instructions) is "
            f"{call.file} code inlined at line {call.call_site.line} (`{call.call_site.text.strip()}`): move the "
            f"loop's body into a global function (`__noinline`, not static; 5.6+), which the verifier checks "
            f"once for any argument, and pass heap pointers to it as numbers it turns back into pointers "
            f"(static_ptr); the loop then costs a call per iteration.")
    kinds = {d.kind for d in differences}
    if "counter" in kinds:
        counter = next(d for d in differences if d.kind == "counter")
        fixes.append(
            f"Let the kernel count: bpf_for(i, 0, N) (6.4+, open-coded iterator: {counter.location} is "
            f"no longer a constant the verifier walks value by value), bpf_loop(N, body, ctx, 0) (5.17+: "
            f"the body is verified once), or a may_goto/cond_break loop (6.9+).")
    if "precise" in kinds:
        flags = ", ".join(d.location for d in differences if d.kind == "precise")
        fixes.append(
            f"Keep {flags} out of the branches inside the loop: compute the value once before the loop, "
            f"or hide it from range tracking with barrier_var() where its exact value does not matter; "
            f"a narrower type (a __u8 flag, a __u32 index) keeps the states fewer.")
    if "pointer-offset" in kinds:
        fixes.append("Index from a fixed base (base + i, with i bounded) instead of advancing a pointer: "
                     "a pointer whose offset grows is a new state every iteration.")
    if "one-path-slot" in kinds:
        fixes.append("Initialise the stack variables the loop uses before it, so every path reaches the "
                     "head with the same slots written.")
    if loop.max_iterations < INSN_LIMIT:
        fixes.append(f"Or bound the loop lower: at {loop.insns_per_iteration:.0f} instructions and "
                     f"{loop.pending_branches_per_iteration:g} undecided branches per iteration, at most "
                     f"{loop.max_iterations} iterations fit the "
                     f"{'1M-instruction' if loop.limit == 'insns' else '8192-jump'} limit.")
    return tuple(fixes)
