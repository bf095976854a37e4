"""Scenario registry and the twin builder: kernels → flyby → attitude → products → truth.json.

Scenarios are *twins*, not reconstructions: the closest-approach time and altitude are the
published ones, everything else (approach velocity from a model orbit, C/A latitude, attitude,
imaging sequence) is chosen to be plausible and is recorded in ``truth.json``.

Spin axis: by default (``spin="flyby-normal"``) the spin axis is the normal of the flyby plane
(r_CA × v_rel): the target then stays in the spin plane during the whole encounter, so JunoCam's
fan (the 58° cross-scan is along the spin axis) sweeps it once per 30-s rotation. With
``spin="earth"`` +Z points at Earth (Juno's usual attitude); the target is then only imaged when
it happens to lie within ~25° of the spin plane. The spin phase is chosen so that the camera
boresight crosses the target in the middle of the first product; every product's start time is
moved by less than one rotation so that the boresight crosses the target mid-product.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import spiceypy
from scipy.optimize import brentq

from ioflyby import __version__
from ioflyby.camera import COLOUR_FILTERS, JunoCam
from ioflyby.errors import ScenarioError
from ioflyby.fileio import (
    AtomicFiles,
    FolderLock,
    atomic_write_text,
    check_out,
    clean_stale,
    is_temporary,
    removed_on_failure,
    temporary_name,
)
from ioflyby.geometry.spin import SpinAttitude, camera_to_spacecraft
from ioflyby.ingest import write_product
from ioflyby.simulate import textkernels as tk
from ioflyby.simulate.attitude import (
    nominal_attitude,
    sclk_string,
    with_attitude_error,
    write_ck,
)
from ioflyby.simulate.basemap import LONGITUDE_CONVENTION, load_basemap
from ioflyby.simulate.ephemeris import write_ephemeris_spk
from ioflyby.simulate.render import FrameletRenderer, HotSpot, ImagingSpec, NoiseModel, RenderEffects
from ioflyby.simulate.surface_change import SurfaceChange, apply_surface_changes
from ioflyby.simulate.trajectory import FlybyDesign, JovianOrbit, design_flyby
from ioflyby.spice import Kernels, et_to_utc, spice_errors, write_spk

R_JUPITER_KM = 71492.0


@dataclass(frozen=True)
class PlannedImage:
    """An image planned relative to C/A: offset of its middle (s), exposures, TDI, filters."""

    offset_s: float
    n_exposures: int = 30
    tdi: int = 3
    filters: tuple[str, ...] = COLOUR_FILTERS
    interframe_delay_s: float = 0.372


@dataclass(frozen=True)
class Scenario:
    """A flyby to simulate (see the module docstring)."""

    name: str
    description: str
    target: str
    ca_time_utc: str
    ca_altitude_km: float
    ca_latitude_deg: float
    orbit: JovianOrbit
    orbit_number: int
    mission_phase: str
    images: tuple[PlannedImage, ...]
    spin: str = "flyby-normal"


SCENARIOS: dict[str, Scenario] = {
    "pj57": Scenario(
        "pj57", "Twin of Juno's PJ57 Io flyby (C/A 2023-12-30T08:36:00 UTC, 1,500 km)", "IO",
        "2023-12-30T08:36:00", 1500.0, 45.0,
        JovianOrbit(1.05 * R_JUPITER_KM, 35.0, 90.0, inbound=True, northbound=False),
        57, "PERIJOVE 57",
        (PlannedImage(-480.0), PlannedImage(-240.0), PlannedImage(300.0)),
    ),
    "pj58": Scenario(
        "pj58", "Twin of Juno's PJ58 Io flyby (C/A 2024-02-03T17:48:35 UTC, 1,500 km)", "IO",
        "2024-02-03T17:48:35", 1500.0, -45.0,
        JovianOrbit(1.05 * R_JUPITER_KM, 33.0, 90.0, inbound=True, northbound=False),
        58, "PERIJOVE 58",
        (PlannedImage(-480.0), PlannedImage(-240.0), PlannedImage(300.0)),
    ),
    "galileo-i32": Scenario(
        "galileo-i32", "Twin of Galileo's I32 Io flyby (C/A 2001-10-16T01:23:20 UTC, 184 km over the "
        "south pole), imaged by a JunoCam-like camera on a spinning spacecraft", "IO",
        "2001-10-16T01:23:20", 184.0, -80.0,
        JovianOrbit(5.8 * R_JUPITER_KM, 45.0, 0.0, inbound=True),
        32, "GALILEO I32 TWIN",
        (PlannedImage(-900.0), PlannedImage(-420.0), PlannedImage(600.0)),
    ),
}


NIGHT_SIDE_IMAGES = (PlannedImage(-180.0), PlannedImage(-120.0))
"""Images of a night-side flyby (``TwinOptions.night_side``): phase ≈ 115–120° at pj57's C/A − 180 s
and − 120 s, about 3–4 km/px."""


@dataclass
class TwinOptions:
    """Injected errors, rendering choices and kernel sources for :func:`build_twin`.

    ``timing_offset_s``: true exposure times = label-derived times + offset. ``attitude_error_deg``
    about ``attitude_error_axis_sc`` (spacecraft frame): truth = nominal · R(axis, angle); the
    nominal CK goes into ``twin.tm``, the truth CK into ``twin_truth.tm``.

    ``effects``: the renderer's optional effects (default: JunoCam's PSF and blooming on,
    Jupiter-shine and radiation hits off). ``night_side``: the closest approach over the night
    side (the other of the design's two C/A points) and, unless ``images`` is given,
    :data:`NIGHT_SIDE_IMAGES` near it (combine with ``effects.jupiter_shine`` to light it).
    """

    timing_offset_s: float = 0.0
    attitude_error_deg: float = 0.0
    attitude_error_axis_sc: tuple[float, float, float] = (1.0, 0.0, 0.0)
    hot_spots: tuple[HotSpot, ...] = ()
    seed: int = 0
    basemap: str | Path | None = None
    minnaert_k: float = 1.0
    noise: NoiseModel = field(default_factory=NoiseModel)
    effects: RenderEffects = field(default_factory=RenderEffects.junocam)
    night_side: bool = False
    official_kernel_dir: str | Path | None = None
    use_official_fk_ik: bool = True
    spin_rate_rpm: float = 2.0
    window_s: float = 3600.0
    truth_pixels: int = 100
    images: tuple[PlannedImage, ...] | None = None
    surface_changes: tuple[SurfaceChange, ...] = ()
    """Changes of the surface since the basemap's epoch (:mod:`ioflyby.simulate.surface_change`)."""


def get_scenario(name: str) -> Scenario:
    """The registered scenario ``name``; ScenarioError listing the known ones otherwise."""
    key = name.strip().lower()
    if key not in SCENARIOS:
        raise ScenarioError(f"unknown scenario {name!r}: choose one of {', '.join(SCENARIOS)}")
    return SCENARIOS[key]


# What a twin writes into its folder, in the order they are published (truth.json, last, marks it complete).
TWIN_ENTRIES = ("kernels", "products", "twin_truth.tm", "twin.tm", "truth.json")


def _prepare_out(out: Path, overwrite: bool) -> tuple[Path, FolderLock]:
    """Lock ``out`` (created) for this run and make a staging folder inside it. Refused when
    another run holds it, or when it holds anything besides stale leftovers of killed runs
    (removed) unless ``overwrite``: then the twin's own entries (:data:`TWIN_ENTRIES`) are
    replaced when the new twin is complete, and nothing else in the folder is touched."""
    check_out(out)
    lock = FolderLock(out).acquire()
    try:
        clean_stale(out)
        present = sorted(p.name for p in out.iterdir() if p.name != FolderLock.NAME and not is_temporary(p.name))
        if present and not overwrite:
            raise ScenarioError(
                f"output folder {out} is not empty ({', '.join(present[:3])}{', ...' if len(present) > 3 else ''}): "
                "pass --overwrite to replace an earlier twin in it, or choose another --out"
            )
        staging = out / temporary_name("twin")
        staging.mkdir()
        return staging, lock
    except BaseException:
        lock.release()
        raise


def _publish_twin(staging: Path, out: Path) -> None:
    """Move the twin built in ``staging`` into ``out`` as one set (replacing an earlier twin's entries)."""
    built = {p.name for p in staging.iterdir()}
    with AtomicFiles() as files:
        for name in sorted(built, key=lambda n: TWIN_ENTRIES.index(n) if n in TWIN_ENTRIES else -1):
            files.adopt(staging / name, out / name)
    staging.rmdir()


def _flyby_normal(design: FlybyDesign) -> np.ndarray:
    h = np.cross(design.ca_state_relative[:3], design.ca_state_relative[3:])
    return h / np.linalg.norm(h)


def _earth_direction(et: float) -> np.ndarray:
    v = np.asarray(spiceypy.spkpos("EARTH", et, "J2000", "LT+S", "JUNO")[0])
    return v / np.linalg.norm(v)


def _azimuth_gap(attitude: SpinAttitude, target: str, boresight_sc: np.ndarray, et: float) -> float:
    """Azimuth (about spacecraft +Z) of the target minus that of the boresight, wrapped to ±π."""
    direction = np.asarray(spiceypy.spkpos(target, et, "J2000", "LT+S", "JUNO")[0])
    in_sc = attitude.spacecraft_to_j2000(et, with_alignment=True).T @ direction
    gap = math.atan2(in_sc[1], in_sc[0]) - math.atan2(boresight_sc[1], boresight_sc[0])
    return (gap + math.pi) % (2 * math.pi) - math.pi


def _boresight_crossing(attitude: SpinAttitude, target: str, boresight_sc: np.ndarray, et: float) -> float:
    """The time nearest ``et`` when the boresight's azimuth equals the target's (within a spin)."""
    period = 2 * math.pi / abs(attitude.rate)
    grid = et + np.arange(-period, period + 1e-9, period / 120)
    gaps = [_azimuth_gap(attitude, target, boresight_sc, t) for t in grid]
    roots = []
    for a, b, ga, gb in zip(grid[:-1], grid[1:], gaps[:-1], gaps[1:]):
        if ga == 0.0:
            roots.append(a)
        elif ga * gb < 0 and abs(ga - gb) < math.pi:
            roots.append(brentq(lambda t: _azimuth_gap(attitude, target, boresight_sc, t), a, b, xtol=1e-6))
    if not roots:
        raise ScenarioError(f"the camera boresight never crosses {target} near {et_to_utc(et)}")
    return min(roots, key=lambda r: abs(r - et))


def _product_id(scenario: Scenario, label_start_utc: str, number: int, filters: Sequence[str]) -> str:
    day = _dt.datetime.strptime(label_start_utc[:10], "%Y-%m-%d")
    kind = "M" if tuple(filters) == ("METHANE",) else "C"
    return f"JNCE_{day.year}{day.timetuple().tm_yday:03d}_{scenario.orbit_number:02d}{kind}{number:05d}_V01"


def _label_utc(et: float) -> str:
    return spiceypy.et2utc(et, "ISOC", 3)


_CLOCK_TICKS_PER_WHOLE_MS = 32


def _label_start_et(et: float) -> float:
    """The epoch nearest ``et`` that the label's clock count (1/256 s ticks) and its START_TIME
    (whole ms) both name exactly: a whole 1/8 s (32 ticks) of the twin's clock, whose fractions
    of a second are UTC's. Needs the twin's SCLK and LSK loaded."""
    ticks = float(spiceypy.sce2c(tk.SPACECRAFT_ID, et))
    ticks = _CLOCK_TICKS_PER_WHOLE_MS * round(ticks / _CLOCK_TICKS_PER_WHOLE_MS)
    return spiceypy.str2et(_label_utc(spiceypy.sct2e(tk.SPACECRAFT_ID, ticks)))


def build_metadata(scenario: Scenario, spec: ImagingSpec, product_id: str, label_start_et: float,
                   number: int, offset_s: float) -> dict:
    """Metadata.json keywords of a simulated product, with the real products' keys and types."""
    target = scenario.target
    with spice_errors(f"computing label geometry for {product_id}"):
        point, _, vector = spiceypy.subpnt("NEAR POINT/ELLIPSOID", target, label_start_et, f"IAU_{target}", "LT+S", "JUNO")
        _, lon, lat = spiceypy.reclat(point)
        sun = spiceypy.spkpos("SUN", label_start_et, "J2000", "LT+S", target)[0]
    stop_et = label_start_et + spec.n_exposures * spec.interframe_delay_s
    start = _label_utc(label_start_et)
    return {
        "COMPRESSION_TYPE": "HUFFMAN",
        "DATA_SET_ID": "JUNO-J-JUNOCAM-2-EDR-L0-V1.0",
        "DESCRIPTION": "",
        "EXPOSURE_DURATION": f"{spec.exposure_s * 1e3:.6f} <ms>",
        "FILTER_NAME": list(spec.filters),
        "FOCAL_PLANE_TEMPERATURE": "273.0 <K>",
        "IMAGE_TIME": start,
        "INSTRUMENT_HOST_NAME": "JUNO",
        "INSTRUMENT_ID": "JNC",
        "INSTRUMENT_NAME": "JUNO EPO CAMERA",
        "INTERFRAME_DELAY": f"{spec.interframe_delay_s:.3f} <s>",
        "JNO:TDI_STAGES_COUNT": int(spec.tdi),
        "LINE_PREFIX_BYTES": 0,
        "LINE_SUFFIX_BYTES": 0,
        "MISSION_PHASE_NAME": scenario.mission_phase,
        "ORBIT_NUMBER": int(scenario.orbit_number),
        "PJ": str(scenario.orbit_number),
        "PROCESSING_LEVEL_ID": 2,
        "PRODUCER_ID": "IOFLYBY_DIGITAL_TWIN",
        "PRODUCT_CREATION_TIME": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "PRODUCT_ID": product_id,
        "PRODUCT_VERSION_ID": 1,
        "RATIONALE_DESC": f"ioflyby digital twin ({scenario.name}): simulated, not a real observation",
        "SAMPLE_BIT_MASK": "2#11111111#",
        "SAMPLE_BIT_MODE_ID": "SQROOT",
        "SAMPLING_FACTOR": 1,
        "SEQUENCE_ID": f"jm{scenario.orbit_number:02d}",
        "SOFTWARE_NAME": f"IOFLYBY SIMULATE {__version__}",
        "SOLAR_DISTANCE": f"{float(np.linalg.norm(sun)):.4e} <km>",
        "SOURCE_PRODUCT_ID": f"ioflyby-twin-{scenario.name}-{number:05d}",
        "SPACECRAFT_ALTITUDE": f"{float(np.linalg.norm(vector)):.1f} <km>",
        "SPACECRAFT_CLOCK_START_COUNT": sclk_string(label_start_et),
        "SPACECRAFT_CLOCK_STOP_COUNT": "N/A",
        "SPACECRAFT_NAME": "JUNO",
        "STANDARD_DATA_PRODUCT_ID": "JUNOCAM-EDR",
        "START_TIME": start,
        "STOP_TIME": _label_utc(stop_et),
        "SUB_SPACECRAFT_LATITUDE": f"{math.degrees(lat):.4f}",
        "SUB_SPACECRAFT_LONGITUDE": f"{(-math.degrees(lon)) % 360.0:.4f}",
        "TARGET_NAME": target,
        "TITLE": f"{scenario.name} twin: {target.title()} at C/A{offset_s:+.0f} s",
        "TOKEN_ID": [],
    }


def _write_text_kernels(kdir: Path, options: TwinOptions) -> tuple[dict[str, Path], str]:
    files = {
        "lsk": tk.write_lsk(kdir / "twin_leapseconds.tls"),
        "pck": tk.write_pck(kdir / "twin_constants.tpc"),
        "sclk": tk.write_sclk(kdir / "twin_juno_sclk.tsc"),
    }
    official = tk.official_juno_fk_ik(options.official_kernel_dir) if options.use_official_fk_ik else None
    if official:
        files["fk"], files["ik"] = official
        return files, "official"
    files["fk"] = tk.write_fk(kdir / "twin_juno.tf")
    files["ik"] = tk.write_ik(kdir / "twin_junocam.ti")
    return files, "written"


@dataclass(frozen=True)
class Twin:
    """A built twin: its metakernel (nominal kernels), product folders and truth (``truth.json``).
    ``to_json()`` is the ``ioflyby simulate --json`` contract."""

    metakernel: Path
    products: list[Path]
    truth: dict

    @property
    def truth_metakernel(self) -> Path:
        """The metakernel with the true attitude (the CK the products were rendered with)."""
        return self.metakernel.parent / self.truth["kernels"]["truth_metakernel"]

    def to_json(self) -> dict:
        return {"metakernel": str(self.metakernel), "products": [str(p) for p in self.products], "truth": self.truth}


def build_twin(scenario: Scenario | str, out: str | Path, options: TwinOptions | None = None,
               overwrite: bool = False, progress: Callable[[str, int, int], None] | None = None) -> Twin:
    """Build a scenario's kernels, products and truth in ``out`` (atomic: a temp folder renamed)."""
    scenario = get_scenario(scenario) if isinstance(scenario, str) else scenario
    options = options or TwinOptions()
    out = Path(out).resolve()
    truth = build_and_publish(out, overwrite, lambda tmp: _build_into(scenario, options, tmp, out, progress))
    return Twin(out / "twin.tm", [out / p["dir"] for p in truth["products"]], truth)


def build_and_publish(out: Path, overwrite: bool, build: Callable[[Path], dict]) -> dict:
    """Run ``build(staging_folder)`` (→ the truth document) under the output folder's lock and
    publish the staging folder as ``out`` when it completes; a failure leaves nothing behind."""
    with removed_on_failure(out):
        tmp, lock = _prepare_out(out, overwrite)
        try:
            truth = build(tmp)
            _publish_twin(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            lock.release()
    return truth


def _design(scenario: Scenario, options: TwinOptions) -> FlybyDesign:
    """The scenario's flyby; with ``options.night_side`` the C/A point with the Sun lower."""
    def design(branch: int | None) -> FlybyDesign:
        return design_flyby(scenario.target, scenario.ca_time_utc, scenario.ca_altitude_km,
                            scenario.ca_latitude_deg, orbit=scenario.orbit, window_s=options.window_s, branch=branch)

    if not options.night_side:
        return design(None)
    return max((design(0), design(1)), key=lambda d: _solar_incidence(scenario.target, d))


def _solar_incidence(target: str, design: FlybyDesign) -> float:
    """Solar incidence angle (rad) at the design's C/A near point."""
    et = design.achieved["time_et"]
    lat, lon = math.radians(design.achieved["lat_deg"]), math.radians(design.achieved["lon_east_deg"])
    point = spiceypy.latrec(1.0, lon, lat)
    sun = spiceypy.spkpos("SUN", et, f"IAU_{target}", "LT+S", target)[0]
    return float(spiceypy.vsep(point, sun))


def _build_into(scenario: Scenario, options: TwinOptions, tmp: Path, final: Path,
                progress: Callable[[str, int, int], None] | None) -> dict:
    say = progress or (lambda *_: None)
    kdir = tmp / "kernels"
    files, fk_ik_source = _write_text_kernels(kdir, options)
    say("ephemeris", 0, 1)
    with Kernels([files["lsk"], files["pck"]]):
        ca_et = spiceypy.str2et(scenario.ca_time_utc)
        margin = max(options.window_s, 86400.0)
        files["ephemeris"] = write_ephemeris_spk(kdir / "twin_ephemeris.bsp", ca_et - margin, ca_et + margin)
    with Kernels([files["lsk"], files["pck"], files["ephemeris"], files["fk"], files["sclk"]]):
        design = _design(scenario, options)
        files["spacecraft"] = write_spk(kdir / "twin_juno_trajectory.bsp", [design.segment()],
                                        f"ioflyby twin {scenario.name} trajectory", label="ioflyby twin")
    say("attitude", 0, 1)
    start_et, stop_et = float(design.epochs[0]), float(design.epochs[-1])
    with Kernels([files[k] for k in ("lsk", "pck", "ephemeris", "spacecraft", "fk", "sclk")]):
        axis = _flyby_normal(design) if scenario.spin == "flyby-normal" else _earth_direction(ca_et)
        mounting = camera_to_spacecraft(ca_et)
        # First guess: +X towards celestial north (phase π/2 from east); docs/twin.md, "Attitude".
        nominal = nominal_attitude(axis, ca_et, options.spin_rate_rpm, mounting, phase_rad=math.pi / 2)
        truth = with_attitude_error(nominal, options.attitude_error_axis_sc, options.attitude_error_deg)
        boresight = mounting[:, 2]
        images = options.images or (NIGHT_SIDE_IMAGES if options.night_side else scenario.images)
        # Spin phase putting the target on the (true) boresight in the middle of the first image.
        gap = _azimuth_gap(truth, scenario.target, boresight, ca_et + images[0].offset_s)
        nominal, truth = (a.with_params(phase=a.phase + gap) for a in (nominal, truth))
        files["ck"] = write_ck(kdir / "twin_juno_attitude.bc", nominal, start_et, stop_et)
        files["ck_truth"] = write_ck(kdir / "twin_juno_attitude_truth.bc", truth, start_et, stop_et,
                                     segment_id="ioflyby twin spin truth")
        crossings = [_boresight_crossing(truth, scenario.target, boresight, ca_et + im.offset_s) for im in images]
    truth_files = [files[k] for k in ("lsk", "pck", "ephemeris", "spacecraft", "fk", "ik", "sclk", "ck_truth")]
    nominal_files = truth_files[:-1] + [files["ck"]]
    def rel(p: Path) -> str | None:
        return os.path.relpath(p, tmp) if Path(p).is_relative_to(tmp) else None

    for name, listed in (("twin.tm", nominal_files), ("twin_truth.tm", truth_files)):
        inside = [rel(p) for p in listed if rel(p)]
        outside = [Path(p) for p in listed if not rel(p)]
        tk.write_metakernel(tmp / name, final, inside, outside)

    basemap = apply_surface_changes(load_basemap(options.basemap), options.surface_changes)
    rng = np.random.default_rng(options.seed)
    products = []
    with Kernels(truth_files):
        camera = JunoCam.from_kernel_pool()
        renderer = FrameletRenderer(camera, basemap, scenario.target, minnaert_k=options.minnaert_k,
                                    noise=options.noise, hot_spots=options.hot_spots, effects=options.effects)
        bias = camera.filter("GREEN").start_time_bias_s
        for k, (image, crossing) in enumerate(zip(images, crossings), start=1):
            step = image.interframe_delay_s + camera.filter("GREEN").interframe_delta_s
            true_start = crossing - bias - 0.5 * image.n_exposures * step
            label_start = _label_start_et(true_start - options.timing_offset_s)
            true_start = label_start + options.timing_offset_s
            spec = ImagingSpec(_label_utc(label_start), image.n_exposures, image.interframe_delay_s, image.tdi, image.filters)
            product_id = _product_id(scenario, spec.start_utc, k, spec.filters)
            total = image.n_exposures * len(images)
            done = [(k - 1) * image.n_exposures]

            def tick(done=done, total=total, product_id=product_id) -> None:
                done[0] += 1
                say(f"rendering {product_id}", done[0], total)

            result = renderer.render(spec, true_start, rng, options.truth_pixels, tick)
            metadata = build_metadata(scenario, spec, product_id, label_start, k, image.offset_s)
            pdir = Path("products") / product_id
            write_product(tmp / pdir, result.framelets, metadata)
            products.append({
                "product_id": product_id, "dir": str(pdir), "label_start_utc": spec.start_utc,
                "label_start_et": label_start, "true_start_et": true_start, "offset_from_ca_s": image.offset_s,
                "n_exposures": image.n_exposures, "filters": list(image.filters), "tdi": image.tdi,
                "interframe_delay_s": image.interframe_delay_s, "render_seconds": round(result.seconds, 3),
                "target_pixels": result.target_pixels, "pixels": result.truth_pixels,
                "hot_spot_images": result.hot_spot_images, "radiation_hits": result.radiation_hits,
            })
    truth = _truth_document(scenario, options, design, nominal, basemap.path, fk_ik_source, files, tmp, products)
    atomic_write_text(tmp / "truth.json", json.dumps(truth, indent=2) + "\n")
    return truth


def _truth_document(scenario, options, design, attitude, basemap_path, fk_ik_source, files, tmp, products) -> dict:
    def kernel_name(p: Path) -> str:
        return os.path.relpath(p, tmp) if Path(p).is_relative_to(tmp) else str(p)

    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "note": "a digital twin: C/A time and altitude as published, everything else modelled",
        "target": scenario.target,
        "spacecraft_id": design.spacecraft_id,
        "requested_ca": design.requested,
        "achieved_ca": design.achieved,
        "approach": {"orbit": design.info["orbit"], "relative_speed_km_s": design.info["relative_speed_km_s"],
                     "relative_velocity_j2000_km_s": design.relative_velocity_km_s.tolist(),
                     "model": design.info["model"]},
        "spin": {"axis_j2000": attitude.axis.tolist(), "rate_rpm": options.spin_rate_rpm,
                 "phase_deg": math.degrees(attitude.phase) % 360.0, "reference_et": attitude.reference_et,
                 "reference_utc": et_to_utc(attitude.reference_et), "axis_choice": scenario.spin},
        "injected": {
            "timing_offset_s": options.timing_offset_s,
            "timing_convention": "true exposure start = label-derived start (START_TIME + bias + n*(delay+delta)) + timing_offset_s",
            "attitude_error_deg": options.attitude_error_deg,
            "attitude_error_axis_sc": list(options.attitude_error_axis_sc),
            "attitude_convention": "C_true(sc->J2000) = C_nominal(sc->J2000) * R(axis_sc, angle); twin.tm has the nominal CK",
        },
        "basemap": {"path": str(basemap_path), "longitude_convention": LONGITUDE_CONVENTION,
                    "band_mapping": "BLUE/GREEN/RED = B/G/R channels, METHANE = grey mean; albedo = 0.9 * value/255"},
        "photometry": {"model": "Minnaert" if options.minnaert_k != 1.0 else "Lambert", "minnaert_k": options.minnaert_k},
        "noise": asdict(options.noise),
        "hot_spots": [h.to_dict() for h in options.hot_spots],
        "surface_changes": [c.to_dict() for c in options.surface_changes],
        "effects": asdict(options.effects),
        "night_side": options.night_side,
        "seed": options.seed,
        "kernels": {"metakernel": "twin.tm", "truth_metakernel": "twin_truth.tm", "fk_ik_source": fk_ik_source,
                    **{k: kernel_name(v) for k, v in files.items()}},
        "ephemeris": "astronomy-engine: VSOP87 planets, L1.2 Galilean satellites (see docs/twin.md for accuracy)",
        "products": products,
    }
