"""lock-misuse: move the call out of the locked region, or unlock before the early return.

- A call to the shipped allocator (static_malloc, static_free, ...) under a bpf_spin_lock the
  program holds only around such calls: the calls move before the lock. The allocator is
  thread-safe by itself (per-CPU caches and atomic operations): it needs no lock of yours.
- Another call under the lock (a helper the verifier forbids there): its result is computed
  before the lock into a new variable, which the locked statement then uses; or the whole
  statement moves after the unlock.
- A return inside the region: bpf_spin_unlock before it.
"""

from __future__ import annotations

from . import Candidate, Context
from .csource import Edit, Node, Tree
from .exits import before_return

RULE = "lock-misuse"
LOCK, UNLOCK = "bpf_spin_lock", "bpf_spin_unlock"


def _call(node: Node, name: str) -> Node | None:
    return next((n for n in node.walk() if n.kind == "CALL_EXPR" and n.spelling == name), None)


def _arg_text(tree: Tree, call: Node) -> str:
    return tree.text(call.children[1]) if len(call.children) > 1 else ""


def _region(tree: Tree, lock_stmt: Node) -> tuple[list[Node], Node | None]:
    """The statements after the lock in its block, up to the matching unlock (and that unlock)."""
    block = lock_stmt.parent
    lock = _call(lock_stmt, LOCK)
    if block is None or lock is None:
        return [], None
    want = _arg_text(tree, lock)
    inside: list[Node] = []
    after = False
    for stmt in block.children:
        if stmt is lock_stmt:
            after = True
            continue
        if not after:
            continue
        unlock = _call(stmt, UNLOCK)
        if unlock is not None and _arg_text(tree, unlock) == want:
            return inside, stmt
        inside.append(stmt)
    return inside, None


def _whole_lines(tree: Tree, stmt: Node) -> tuple[int, int]:
    return tree.line_start(stmt.line), tree.after_line(stmt.end_line)


def _allocator_only(stmt: Node, guarded: str | None) -> bool:
    """Whether a statement calls the shipped allocator and nothing else, and does not touch
    the variable that holds the lock (the data the lock guards)."""
    calls = [c for c in stmt.walk() if c.kind == "CALL_EXPR"]
    touches = any(n.kind == "DECL_REF_EXPR" and n.spelling == guarded for n in stmt.walk())
    return bool(calls) and all(c.spelling.startswith("static_") for c in calls) and not touches


def _guarded(lock: Node) -> str | None:
    """The variable the lock's argument starts from (`s` in `bpf_spin_lock(&s->lock)`)."""
    args = lock.children[1:]
    return next((n.spelling for a in args for n in a.walk() if n.kind == "DECL_REF_EXPR"), None)


def _movable(inside: list[Node], guarded: str | None) -> tuple[list[Node], list[Node]]:
    """The region's leading allocator-only statements (they move before the lock) and its
    trailing ones (after the unlock): at the region's ends, so no statement of the region
    between them and their new place reads or writes what they do, in the order they ran."""
    lead = 0
    while lead < len(inside) and _allocator_only(inside[lead], guarded):
        lead += 1
    trail = len(inside)
    while trail > lead and _allocator_only(inside[trail - 1], guarded):
        trail -= 1
    return inside[:lead], inside[trail:]


def _allocator_out(tree: Tree, lock_stmt: Node) -> list[Candidate]:
    """Every region of the function that holds this lock around static_* calls: the calls at
    the region's start move before the lock, those at its end after the unlock (one candidate
    for all of them); the rest of the region stays locked."""
    lock = _call(lock_stmt, LOCK)
    want = _arg_text(tree, lock)
    function = tree.function_at(lock_stmt.line)
    edits: list[Edit] = []
    names: list[str] = []
    for stmt in (n for n in function.walk() if n.is_statement()):
        call = _call(stmt, LOCK)
        if call is None or _arg_text(tree, call) != want or stmt.kind != "CALL_EXPR":
            continue
        inside, unlock_stmt = _region(tree, stmt)
        before, after = _movable(inside, _guarded(call))
        if unlock_stmt is None:
            after = []
        for moved, at in ((before, tree.line_start(stmt.line)),
                          (after, tree.after_line(unlock_stmt.end_line) if unlock_stmt is not None else 0)):
            if not moved:
                continue
            text = b"".join(tree.source[slice(*_whole_lines(tree, s))] for s in moved).decode(errors="replace")
            edits += [Edit(at, at, text)] + [Edit(*_whole_lines(tree, s), "") for s in moved]
            names += [c.spelling for s in moved for c in s.walk() if c.kind == "CALL_EXPR"]
    if not edits:
        return []
    names = ", ".join(dict.fromkeys(names))
    return [Candidate(f"{RULE}: move {names} out of the locked region", tuple(edits),
                      f"the allocator is thread-safe by itself (ALLOCATOR.md), so {names} "
                      f"{'needs' if ',' not in names else 'need'} no lock of yours, and the verifier forbids "
                      f"calls under bpf_spin_lock: moved out of the locked region, the rest stays locked")]


def _hoist(tree: Tree, lock_stmt: Node, unlock_stmt: Node | None, stmt: Node, call: Node) -> list[Candidate]:
    out = []
    indent = tree.indent(lock_stmt.line)
    result = call.type.spelling
    text = tree.text(call)
    if result and result != "void":
        name = tree.fresh_name(call.spelling.removeprefix("bpf_"))
        at = tree.line_start(lock_stmt.line)
        out.append(Candidate(
            f"{RULE}: call {call.spelling} before the lock",
            (Edit(at, at, f"{indent}{result} {name} = {text};\n"), Edit(call.start, call.end, name)),
            f"the verifier forbids calls while a bpf_spin_lock is held: {call.spelling}() now runs just "
            f"before the lock, and the locked code uses its result"))
    if unlock_stmt is not None and (not result or result == "void"):
        start, end = _whole_lines(tree, stmt)
        at = tree.after_line(unlock_stmt.end_line)
        out.append(Candidate(
            f"{RULE}: move the statement on line {stmt.line} after the unlock",
            (Edit(start, end, ""), Edit(at, at, tree.source[start:end].decode(errors="replace"))),
            f"the verifier forbids calls while a bpf_spin_lock is held: the statement calling "
            f"{call.spelling}() now runs just after the unlock"))
    return out


def candidates(ctx: Context) -> list[Candidate]:
    tree, site = ctx.tree, ctx.site
    found = tree.place(site.culprit_line)
    if found is None or _call(found[1], LOCK) is None:
        return []
    lock_stmt = found[1]
    inside, unlock_stmt = _region(tree, lock_stmt)
    out = _allocator_out(tree, lock_stmt)
    unlock_code = f"{UNLOCK}({_arg_text(tree, _call(lock_stmt, LOCK))});"
    for stmt in inside:
        returns = [n for n in stmt.walk() if n.kind == "RETURN_STMT"]
        if returns:
            edits = tuple(e for r in returns for e in before_return(tree, r, unlock_code))
            out.append(Candidate(f"{RULE}: unlock before the return on line {returns[0].line}", edits,
                                 f"the return on line {returns[0].line} left with the lock held; it now "
                                 f"unlocks first (the return value is unchanged)"))
        if site.error_line is not None and stmt.line <= site.error_line <= stmt.end_line:
            for call in [n for n in stmt.walk() if n.kind == "CALL_EXPR"]:
                out += _hoist(tree, lock_stmt, unlock_stmt, stmt, call)
    return out
