"""A stale packet pointer: a helper that may move or resize the packet (bpf_xdp_adjust_tail,
bpf_skb_pull_data, ...) invalidates every packet pointer, and the program reads through one
it set before the call (the verifier then sees a number: packet-invalidated, a scalar-deref
before that class).

The repair reloads after the helper: every packet pointer set before it is set again the
same way (`data = (void *)(long)ctx->data;`, `eth = data;`), and each bounds check the
program made on them is made again, leaving by the same exit.
"""

from __future__ import annotations

from . import Candidate, Context
from .csource import Edit, Node, Tree, assignments

RULE = "packet-invalidated"
# helpers after which the verifier forgets every packet pointer (bpf_helper_changes_pkt_data)
PACKET_CHANGING = frozenset({
    "bpf_xdp_adjust_head", "bpf_xdp_adjust_tail", "bpf_xdp_adjust_meta", "bpf_skb_pull_data",
    "bpf_skb_change_head", "bpf_skb_change_tail", "bpf_skb_change_proto", "bpf_skb_adjust_room",
    "bpf_skb_store_bytes", "bpf_l3_csum_replace", "bpf_l4_csum_replace", "bpf_skb_vlan_push",
    "bpf_skb_vlan_pop", "bpf_clone_redirect", "bpf_lwt_push_encap", "bpf_msg_pull_data",
    "bpf_msg_push_data", "bpf_msg_pop_data",
})
PACKET_FIELDS = frozenset({"data", "data_end", "data_meta"})


def _reads(node: Node, names: set[str]) -> bool:
    return any(n.kind == "MEMBER_REF_EXPR" and n.spelling in PACKET_FIELDS or
               n.kind == "DECL_REF_EXPR" and n.spelling in names for n in node.walk())


def _calls_changing(node: Node) -> str | None:
    return next((n.spelling for n in node.walk() if n.kind == "CALL_EXPR" and n.spelling in PACKET_CHANGING), None)


def candidates(ctx: Context) -> list[Candidate]:
    tree, site = ctx.tree, ctx.site
    found = tree.place(site.error_line)
    if found is None:
        return []
    function, used = found
    before = [s for s in function.walk() if s.is_statement() and s.end < used.start]
    helpers = [s for s in before if _calls_changing(s)]
    if not helpers:
        return []
    helper = helpers[-1]
    pointers: set[str] = set()
    lines: list[str] = []
    indent = tree.indent(helper.line)
    for stmt in (s for s in before if s.end < helper.start):
        if stmt.kind == "IF_STMT":
            if pointers and _reads(stmt.children[0], pointers) and any(
                    n.kind == "RETURN_STMT" for n in stmt.walk()):
                lines.append(tree.source[tree.line_start(stmt.line):tree.after_line(stmt.end_line)].decode())
            continue
        for variable, value in assignments(tree, stmt):
            if value is not None and _reads(value, pointers):
                pointers.add(variable.spelling)
                lines.append(f"{indent}{variable.spelling} = {tree.text(value)};\n")
    if not pointers:
        return []
    at = tree.after_line(helper.end_line)
    name = _calls_changing(helper)
    return [Candidate(f"{RULE}: reload packet pointers after {name}", (Edit(at, at, "".join(lines)),),
                      f"{name}() may move the packet, so every packet pointer set before it is invalid: "
                      f"{', '.join(sorted(pointers))} are set again after it and checked again (a packet now "
                      "too short leaves by the same exit as before)")]
