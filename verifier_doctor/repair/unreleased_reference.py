"""unreleased-reference: release the reference on the path that leaks it, before its return.

The acquiring call (the culprit) says which release fits: a ring buffer reservation is
discarded (the path that leaked it never submitted it), a socket from a lookup is released
with bpf_sk_release, a task or cgroup with its kfunc's release, an object with bpf_obj_drop.
A leaking return is one after the acquisition that no release precedes in its block and
that is not the pointer's own NULL check.
"""

from __future__ import annotations

from . import Candidate, Context
from .csource import Node, Tree, operator, set_variables
from .exits import before_return, guard_of

RULE = "unreleased-reference"

# the acquiring call -> how the path that leaks it gives it back
RELEASES = {
    "bpf_ringbuf_reserve": "bpf_ringbuf_discard({v}, 0);",
    "bpf_sk_lookup_tcp": "bpf_sk_release({v});",
    "bpf_sk_lookup_udp": "bpf_sk_release({v});",
    "bpf_skc_lookup_tcp": "bpf_sk_release({v});",
    "bpf_task_acquire": "bpf_task_release({v});",
    "bpf_task_from_pid": "bpf_task_release({v});",
    "bpf_cgroup_acquire": "bpf_cgroup_release({v});",
    "bpf_cgroup_from_id": "bpf_cgroup_release({v});",
    "bpf_obj_new_impl": "bpf_obj_drop({v});",
}
RELEASERS = {"bpf_ringbuf_submit", "bpf_ringbuf_discard", "bpf_sk_release", "bpf_task_release",
             "bpf_cgroup_release", "bpf_obj_drop_impl"}


def _calls(node: Node) -> list[Node]:
    return [n for n in node.walk() if n.kind == "CALL_EXPR"]


def _releases(node: Node, name: str) -> bool:
    return any(c.spelling in RELEASERS and any(r.spelling == name for r in c.walk() if r.kind == "DECL_REF_EXPR")
               for c in _calls(node))


def _null_check_of(tree: Tree, ret: Node, name: str) -> bool:
    guard = guard_of(ret)
    if guard is None:
        return False
    cond = guard.children[0]
    while cond.kind in ("PAREN_EXPR", "UNEXPOSED_EXPR") and cond.children:
        cond = cond.children[0]
    return cond.kind == "UNARY_OPERATOR" and operator(tree, cond) == "!" and \
        any(r.spelling == name for r in cond.walk() if r.kind == "DECL_REF_EXPR")


def _released_before(ret: Node, name: str) -> bool:
    node = ret
    for up in ret.ancestors():
        if up.kind == "COMPOUND_STMT":
            for sibling in up.children:
                if sibling is node:
                    break
                if _releases(sibling, name):
                    return True
        if up.kind == "FUNCTION_DECL":
            return False
        node = up
    return False


def candidates(ctx: Context) -> list[Candidate]:
    tree, site = ctx.tree, ctx.site
    found = tree.place(site.culprit_line)
    if found is None:
        return []
    function, acquire = found
    call = next((c for c in _calls(acquire) if c.spelling in RELEASES), None)
    variables = [v for v in set_variables(tree, acquire) if v.type.get_canonical().kind.name == "POINTER"]
    if call is None or not variables:
        return []
    name = variables[0].spelling
    code = RELEASES[call.spelling].format(v=name)
    leaking = [r for r in function.walk() if r.kind == "RETURN_STMT" and r.start > acquire.end
               and not _null_check_of(tree, r, name) and not _released_before(r, name)]
    # the return on the rejected line first
    leaking.sort(key=lambda r: (r.line != site.error_line and guard_of(r) is not None and
                                guard_of(r).line != site.error_line, r.start))
    out = []
    release = code.split("(")[0]
    for ret in leaking:
        out.append(Candidate(f"{RULE}: {release} before the return on line {ret.line}",
                             before_return(tree, ret, code),
                             f"the path that returns on line {ret.line} kept {name} from {call.spelling}(); "
                             f"it now gives it back with {release}() first (the return value is unchanged)"))
    if len(leaking) > 1:
        edits = tuple(e for ret in leaking for e in before_return(tree, ret, code))
        out.append(Candidate(f"{RULE}: {release} before every leaking return", edits,
                             f"the paths that return on lines {', '.join(str(r.line) for r in sorted(leaking, key=lambda r: r.line))} kept "
                             f"{name} from {call.spelling}(); each now gives it back with {release}() first"))
    return out
