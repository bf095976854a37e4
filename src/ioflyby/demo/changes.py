"""The demo's "What changed between PJ57 and PJ58" section: a second epoch of the twin whose
surface gained a new lava flow, mapped like the first, and the two maps compared.

The later epoch's twin (pj58's trajectory, its own Sun and viewing geometry) renders the basemap
with :data:`DEMO_FLOW` applied (a flow-shaped darkening, exact area in its ``truth.json``) in one
short image that sees :data:`CHANGE_REGION`; its pointing is solved from the limb like the first
epoch's, it is mapped onto the region with the demo's mosaic settings (equirectangular,
Lambert-corrected linear I/F), and :func:`ioflyby.volcano.change.detect_changes` compares it
with the first epoch's global mosaic there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ioflyby.ingest import read_product
from ioflyby.observation import Observation, solve_pointing
from ioflyby.processing import MapSpec, process
from ioflyby.report import Section
from ioflyby.simulate import PlannedImage, Twin
from ioflyby.simulate.surface_change import SurfaceChange
from ioflyby.spice import Kernels

CHANGE_EPOCHS = {"pj57": "pj58"}
"""Scenario → the later flyby whose twin carries the new flow."""
DEMO_FLOW = SurfaceChange(lat_deg=20.0, lon_east_deg=170.0, radius_km=80.0, reflectance_factor=0.5, shape="flow",
                          azimuth_deg=120.0)
"""The injected new lava flow: a 320 km long, 80 km wide lobe at 20°N 190°W, half as bright."""
CHANGE_REGION = (0.0, 40.0, 145.0, 195.0)
"""(lat0, lat1, lon0, lon1) degrees, planetocentric latitude, east longitude: lit and seen at both epochs."""
CHANGE_IMAGE = PlannedImage(-480.0, n_exposures=10)
"""The later epoch's one short image (C/A − 480 s, 10 exposures): enough to cover the region."""


@dataclass
class ChangeReport:
    """The comparison's result (:class:`ioflyby.volcano.change.ChangeResult`), the injected truth
    and the files written."""

    result: object
    truth: list[dict]
    after_map: Path
    files: list[Path] = field(default_factory=list)

    def recovered(self) -> list[dict]:
        """Per injected change: the recovered region's area against the exact one, and the IoU."""
        from ioflyby.volcano.change import truth_comparison

        return truth_comparison(self.result, self.truth)

    def summary(self) -> dict:
        result = self.result
        return {"changes": len(result.changes), "changed_area_km2": result.changed_area_km2,
                "compared_area_km2": result.compared_area_km2, "region": list(CHANGE_REGION),
                "injected": [{"shape": t["shape"], "kind": t["kind"], "area_km2": t["area_km2"]} for t in self.truth],
                "recovered": self.recovered(), "after_map": str(self.after_map),
                "files": [str(p) for p in self.files]}

    def section(self, before: str, after: str) -> Section:
        from ioflyby.volcano.change import change_report_section

        part = change_report_section(self.result, truth=self.truth, title=f"What changed between {before} and {after}")
        part.paragraphs.insert(0, f"The {after} twin's surface gained a new lava flow (a {DEMO_FLOW.shape} half as "
                                  f"bright, {DEMO_FLOW.area_km2():,.0f} km², at {DEMO_FLOW.lat_deg:g}°N "
                                  f"{(-DEMO_FLOW.lon_east_deg) % 360:g}°W); one short {after} image was mapped like "
                                  f"the {before} mosaic and the two compared over {CHANGE_REGION[0]:g}–"
                                  f"{CHANGE_REGION[1]:g}°N, {CHANGE_REGION[2]:g}–{CHANGE_REGION[3]:g}°E.")
        return part


def find_changes(before_map: Path, epoch_twin: Twin, resolution_km: float, out: Path) -> ChangeReport:
    """Solve the later epoch's pointing, map it onto :data:`CHANGE_REGION` at ``resolution_km``
    (Lambert-corrected linear I/F, as the first epoch's mosaic ``before_map``), compare the two
    and write the change products into ``out``/changes."""
    from ioflyby.volcano.change import ChangeConfig, detect_changes

    products = [read_product(p) for p in epoch_twin.products]
    with Kernels([epoch_twin.metakernel]):
        solutions = [solve_pointing(Observation(p), prior="ck", align=True) for p in products]
    spec = MapSpec(projection="equirectangular", lat_range=CHANGE_REGION[:2], lon_range=CHANGE_REGION[2:],
                   resolution_km=resolution_km, photometry="lambert", science=True)
    mapped = process(products, [epoch_twin.metakernel], spec, out / "map", pointing=solutions)
    after_map = mapped.files["linear"]
    result = detect_changes(before_map, after_map, ChangeConfig(region=CHANGE_REGION))
    files = result.write(out / "changes")
    return ChangeReport(result, epoch_twin.truth["surface_changes"], after_map, files)
