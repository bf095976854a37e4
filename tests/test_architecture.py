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


def imported_modules(source: str, module: str) -> set[str]:
    """The dotted module names ``source`` imports, including relative (resolved against
    ``module``, the importing module's dotted name) and function-level imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                names.add(".".join(base + ([node.module] if node.module else [])))
            else:
                names.add(node.module or "")
    return names


def imported_stages(source: str, module: str) -> set[str]:
    """The ioflyby stages (first component below ``ioflyby``) that ``source`` imports."""
    return {parts[1] for parts in (name.split(".") for name in imported_modules(source, module))
            if parts[0] == "ioflyby" and len(parts) > 1}


def package_modules() -> list[tuple[str, str, Path]]:
    """(dotted module name, stage, path) of every module of the package."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        out.append((".".join(relative.parts), relative.parts[1] if len(relative.parts) > 1 else "", path))
    return out


def stage_violations() -> list[str]:
    found = []
    for module, stage, path in package_modules():
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


GPL_PACKAGES = {"JupiterMag", "jupitermag"}
"""GPL-licensed packages ioflyby (MIT) may be cross-checked against but never import or require."""


def test_no_gpl_package_is_imported_or_required():
    import tomllib

    imported = {module: {name.split(".")[0] for name in imported_modules(path.read_text(), module)}
                for module, _, path in package_modules()}
    assert [m for m, names in imported.items() if names & GPL_PACKAGES] == []
    project = tomllib.loads((PACKAGE.parents[1] / "pyproject.toml").read_text())["project"]
    required = {requirement.split(">")[0].split("=")[0].split("[")[0].strip() for requirement in project["dependencies"]}
    assert not required & GPL_PACKAGES
