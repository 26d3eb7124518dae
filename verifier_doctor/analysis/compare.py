"""Our diagnosis beside v7.3's own: where they agree, where one says more."""

from __future__ import annotations

from .diagnosis import Diagnosis


def relation_to_kernel(diagnosis: Diagnosis) -> str | None:
    """"agrees", "ours-says-more", "kernel-says-more" or "differ"; None without a v7.3 block.

    The kernel's causal path lists the instructions that changed the offending value
    (its "update:"/"acquired:" notes) and the branches taken; ours names one culprit,
    followed further back where it can (through map memory, stack slots, arithmetic).
    """
    kernel = diagnosis.kernel_diagnosis
    if kernel is None or diagnosis.verdict != "rejected":
        return None
    causes = [p for p in kernel.causal_path if p.note and p.note_kind != "branch"]
    culprit = diagnosis.culprit
    if culprit is None:
        return "kernel-says-more" if causes else "agrees"
    if any(place.insn == culprit.insn for place in causes):
        return "agrees"
    if not causes or all(culprit.insn is not None and place.insn is not None and culprit.insn < place.insn
                         for place in causes):
        return "ours-says-more"  # our culprit is further back, or the kernel names none
    return "differ"
