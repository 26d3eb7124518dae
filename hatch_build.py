"""Wheel build hook: the catalogue's recorded logs, compact.

`vdoctor catalog` shows a reproducer's level-1 log on each kernel and falls back to the
level-2 one only when there is no level-1 log (verifier_doctor/catalog.py), so the wheel
carries those and leaves the other level-2 logs (about half the bytes) in the repository.
"""

from __future__ import annotations

from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SHIPPED = "verifier_doctor/_shipped/fixtures/logs"


class CatalogueLogs(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel" or version == "editable":
            return  # an editable install reads fixtures/ from the checkout
        for log in sorted(Path(self.root, "fixtures", "logs").glob("*/*.log")):
            level_one = log.with_name(log.name.replace(".L2.log", ".L1.log"))
            if log.name.endswith(".L2.log") and level_one.is_file():
                continue
            build_data["force_include"][str(log)] = f"{SHIPPED}/{log.parent.name}/{log.name}"
