"""The digital twin: SPICE kernels for a designed flyby (ephemeris, trajectory, attitude, clock,
frames) and JunoCam raw products rendered from them with the project's own camera model.

Entry points: :func:`build_twin` (what ``ioflyby simulate`` runs), :func:`design_flyby`,
:class:`FrameletRenderer`, the writers in :mod:`ioflyby.simulate.textkernels`, and the scenario
registry :data:`SCENARIOS`.
"""

from ioflyby.simulate.attitude import (
    nominal_attitude,
    sclk_string,
    with_attitude_error,
    write_ck,
)
from ioflyby.simulate.basemap import (
    LONGITUDE_CONVENTION,
    Basemap,
    default_basemap_path,
    load_basemap,
)
from ioflyby.simulate.ephemeris import write_ephemeris_spk
from ioflyby.simulate.render import (
    FrameletRenderer,
    HotSpot,
    ImagingSpec,
    NoiseModel,
    RenderEffects,
    RenderResult,
)
from ioflyby.simulate.scenarios import (
    NIGHT_SIDE_IMAGES,
    SCENARIOS,
    PlannedImage,
    Scenario,
    Twin,
    TwinOptions,
    build_twin,
    get_scenario,
)
from ioflyby.simulate.thermal import JUNOCAM_PSF_SIGMA_PX, catalogue_hot_spots
from ioflyby.simulate.trajectory import FlybyDesign, JovianOrbit, design_flyby

__all__ = [
    "JUNOCAM_PSF_SIGMA_PX",
    "LONGITUDE_CONVENTION",
    "NIGHT_SIDE_IMAGES",
    "SCENARIOS",
    "Basemap",
    "FlybyDesign",
    "FrameletRenderer",
    "HotSpot",
    "ImagingSpec",
    "JovianOrbit",
    "NoiseModel",
    "PlannedImage",
    "RenderEffects",
    "RenderResult",
    "Scenario",
    "Twin",
    "TwinOptions",
    "build_twin",
    "catalogue_hot_spots",
    "default_basemap_path",
    "design_flyby",
    "get_scenario",
    "load_basemap",
    "nominal_attitude",
    "sclk_string",
    "with_attitude_error",
    "write_ck",
    "write_ephemeris_spk",
]
