"""Data flows one way: the package's imports (module level and inside functions) obey the stage
rules of ../shared/DESIGN.md."""

from __future__ import annotations

import ast
from pathlib import Path

import ioflyby

PACKAGE = Path(ioflyby.__file__).parent
ORCHESTRATION = {"observation", "processing", "demo", "validate", "cli"}
SCIENCE_AND_SERVICES = {"volcano", "magnetosphere", "render", "batch", "viewer"}
"""Stages downstream of the maps: no lower stage imports them."""
LOWER = ORCHESTRATION | SCIENCE_AND_SERVICES
FORBIDDEN = {
    "mapping": {"ingest", "calibrate", "pointing", "simulate", "flyby"} | LOWER,
    "pointing": {"mapping", "simulate", "flyby"} | LOWER,
    "geometry": {"ingest", "calibrate", "pointing", "mapping", "simulate", "flyby"} | LOWER,
    "camera": {"ingest", "calibrate", "geometry", "pointing", "mapping", "simulate", "flyby"} | LOWER,
    "spice": {"camera", "ingest", "calibrate", "geometry", "pointing", "mapping", "simulate", "flyby"} | LOWER,
    "ingest": {"calibrate", "geometry", "pointing", "mapping", "simulate", "flyby"} | LOWER,
    "calibrate": {"geometry", "pointing", "mapping", "simulate", "flyby"} | LOWER,
    "simulate": LOWER - {"volcano"},  # the twin emits with volcano.thermal's physics, places its catalogue
    "flyby": LOWER,
    "magnetosphere": {"camera", "ingest", "calibrate", "pointing", "mapping", "simulate", "flyby"} | LOWER,
    "volcano": {"render", "batch", "viewer", "demo", "validate", "cli"},
    "render": {"batch", "viewer", "demo", "validate", "cli"},
    "batch": {"viewer", "demo", "cli"},
    "viewer": {"camera", "ingest", "calibrate", "geometry", "pointing", "mapping", "simulate", "flyby",
               "render", "batch", "magnetosphere", "observation", "processing", "demo", "validate", "cli"},
}
"""Stage → stages it must never import. Every stage but the CLI is also barred from the CLI."""


def imported_stages(source: str, module: str) -> set[str]:
    """The ioflyby stages (first component below ``ioflyby``) that ``source`` imports, including
    relative and function-level imports; ``module`` is the importing module's dotted name."""
    stages = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                names = [".".join(base + ([node.module] if node.module else []))]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "ioflyby" and len(parts) > 1:
                stages.add(parts[1])
    return stages


def stage_violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(relative.parts)
        stage = relative.parts[1] if len(relative.parts) > 1 else ""
        barred = (FORBIDDEN.get(stage, set()) | {"cli"}) - {stage}
        for imported in sorted(imported_stages(path.read_text(), module) & barred):
            found.append(f"{module} imports ioflyby.{imported}")
    return found


def test_stages_import_only_upstream():
    assert stage_violations() == []


def test_the_checker_sees_lazy_relative_and_aliased_imports():
    source = (
        "import numpy\n"
        "from ioflyby.geometry import Body\n"
        "def f():\n"
        "    from ..mapping.grid import MapGrid\n"
        "    import ioflyby.cli.app as app\n"
    )
    assert imported_stages(source, "ioflyby.pointing.solve") == {"geometry", "mapping", "cli"}
