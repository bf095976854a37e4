"""The Galileo SSI twin: framing-camera images of the galileo-i32 flyby, written as real SSI PDS3
REDRs and read back by :func:`ioflyby.ingest.read_product`, with their own kernels and truth.

What :func:`build_ssi_twin` writes into ``out`` (published as one set, ``truth.json`` last):

- ``kernels/``: the twin's LSK and PCK (:mod:`ioflyby.simulate.textkernels`), its Jovian-system
  ephemeris (:func:`ioflyby.simulate.write_ephemeris_spk`), Galileo's trajectory (NAIF id −77,
  the galileo-i32 flyby designed by :func:`ioflyby.simulate.design_flyby`), a Galileo-format
  SCLK (RIM.MOD91.MOD10.MOD8, ``write_galileo_sclk``), the SSI keywords and the GLL_SSI_PLATFORM
  CK frame as ISIS's ``ssiAddendum005.ti`` gives them (``write_ssi_addendum``), and two
  scan-platform CKs (frame −77001 relative to J2000): the *true* pointing the images were
  rendered with and the *nominal* one (truth × the injected pointing error);
- ``products/<IMAGE_ID>/<IMAGE_ID>.LBL`` + ``.IMG``: one SSI REDR per planned image
  (:func:`ioflyby.ingest.ssi_writer.write_ssi_product`);
- ``twin.tm`` (nominal CK) and ``twin_truth.tm`` (true CK) metakernels, ``truth.json``.

Pointing: Galileo's scan platform is three-axis stabilised. Each image's true camera matrix puts
the boresight on its aim (``"disc"``: Io's centre; ``"limb"``: ``limb_inside_px`` inside the
limb, on the limb point ``limb_azimuth_deg`` from the sky-projected north pole, so the frame
holds disc, limb and sky) with the camera's +Y axis ``twist_deg`` from that direction. The CK
holds each attitude from 20 s before to 20 s after the image (slews between images are
interpolated). Injected pointing error, per image: ``C_true(camera→J2000) = C_nominal ·
R(axis_camera, angle)``, so the nominal kernels (``twin.tm``) put every feature
``angle · axis × ray`` (rad) away from where the image shows it.

Rendering (:class:`SsiRenderer`): per pixel the twin's surface machinery of
:class:`ioflyby.simulate.render.FrameletRenderer` (ray → ellipsoid intercept with per-pixel
light time and aberration → basemap albedo → Minnaert shading), the geometry at the label's
IMAGE_TIME (the mid-exposure epoch, :mod:`ioflyby.camera.ssi`), then SSI radiometry: signal DN
= I/F × ``DN_PER_IF_PER_S[filter]`` × exposure × (5.2 AU / d_sun)², dark level, shot and read
noise, 8-bit DN (linear, clipped at 255). SSI filters take the basemap band of
:data:`BASEMAP_BAND` (VIOLET the blue channel, GREEN and RED theirs, CLEAR and the near-IR
filters the grey mean). Radiometric constants are documented approximations, not a calibration.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import spiceypy

from ioflyby.camera.ssi import GalileoSSI
from ioflyby.errors import ScenarioError
from ioflyby.fileio import atomic_write_text
from ioflyby.geometry import FrameletPoses, planetocentric_latlon
from ioflyby.ingest.ssi_writer import write_ssi_product
from ioflyby.simulate import textkernels as tk
from ioflyby.simulate.basemap import LONGITUDE_CONVENTION, Basemap, load_basemap
from ioflyby.simulate.ephemeris import write_ephemeris_spk
from ioflyby.simulate.render import FrameletRenderer, NoiseModel, RenderEffects
from ioflyby.simulate.scenarios import Scenario, Twin, build_and_publish, get_scenario
from ioflyby.simulate.surface_change import SurfaceChange, apply_surface_changes
from ioflyby.simulate.trajectory import FlybyDesign, design_flyby
from ioflyby.spice import Kernels, et_to_utc, spice_errors, write_spk
from ioflyby.spice.writers import write_ck

SPACECRAFT = "GALILEO ORBITER"
PLATFORM_FRAME_ID = -77001
BASEMAP_BAND = {"CLEAR": "METHANE", "VIOLET": "BLUE", "GREEN": "GREEN", "RED": "RED", "IR-7270": "METHANE",
                "IR-7560": "METHANE", "IR-8890": "METHANE", "IR-9680": "METHANE", "INFRARED": "METHANE"}
"""The basemap band each SSI filter samples (:mod:`ioflyby.simulate.basemap` bands; METHANE is the grey mean)."""
DN_PER_IF_PER_S = {"CLEAR": 9000.0, "VIOLET": 1500.0, "GREEN": 4000.0, "RED": 4500.0, "IR-7270": 1500.0,
                   "IR-7560": 1800.0, "IR-8890": 900.0, "IR-9680": 600.0, "INFRARED": 600.0}
"""Signal DN per unit I/F per second of exposure at 5.2 AU (documented approximations)."""
SSI_NOISE = NoiseModel(dark_dn=2.0, read_noise_dn=0.5, gain_e_per_dn=40.0)
"""Dark level and read noise (DN) and gain (e⁻/DN) of the twin's SSI: approximately the 100K gain mode."""
MAX_DN = 255
AU_KM = 149597870.7
REFERENCE_SUN_DISTANCE_KM = 5.2 * AU_KM
CK_HOLD_S = 20.0
"""Each image's attitude is held this long before and after its epoch in the CKs."""
SCENARIO = "galileo-i32"
SSI_SCENARIOS = (SCENARIO,)
"""The scenarios whose spacecraft carried SSI (the twin flies them with Galileo's NAIF id)."""


@dataclass(frozen=True)
class SsiImage:
    """One planned SSI image: offset of its epoch from C/A (s), filter, exposure (ms), summing
    (1: 800 × 800, 2: 400 × 400), aim (``"disc"`` or ``"limb"``) and the injected pointing error
    (rotation ``error_urad`` µrad about ``error_axis_camera``, camera frame)."""

    offset_s: float
    filter: str = "GREEN"
    exposure_ms: float = 50.0
    summing: int = 1
    aim: str = "disc"
    limb_inside_px: float = 250.0
    limb_azimuth_deg: float = 60.0
    twist_deg: float = 30.0
    error_urad: float = 0.0
    error_axis_camera: tuple[float, float, float] = (1.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if self.aim not in ("disc", "limb"):
            raise ScenarioError(f"SSI image aim {self.aim!r}: use 'disc' or 'limb'")
        if self.filter not in BASEMAP_BAND:
            raise ScenarioError(f"SSI filter {self.filter!r}: use one of {', '.join(BASEMAP_BAND)}")
        if self.summing not in (1, 2):
            raise ScenarioError(f"SSI summing {self.summing}: use 1 (800 × 800) or 2 (400 × 400)")


SSI_IMAGES: tuple[SsiImage, ...] = (
    SsiImage(21600.0, "GREEN", 60.0, aim="limb", error_urad=60.0, error_axis_camera=(0.6, -0.8, 0.0)),
    SsiImage(7200.0, "CLEAR", 25.0, aim="disc", error_urad=45.0, error_axis_camera=(-0.8, 0.6, 0.0)),
    SsiImage(14400.0, "RED", 50.0, summing=2, aim="disc", error_urad=80.0, error_axis_camera=(0.0, 1.0, 0.0)),
)
"""galileo-i32's SSI images, outbound (phase ≈ 12°): a limb frame 6 h after C/A (~150,000 km,
~1.5 km/px), a full-frame disc image at 2 h (~50,000 km, ~0.5 km/px) and a summed one at 4 h."""


@dataclass
class SsiTwinOptions:
    """Choices of :func:`build_ssi_twin`: the images, basemap, photometry (Minnaert k; 1 =
    Lambert), detector noise, effects (pixel supersampling; the PSF blurs the surface when
    ``surface_psf``), random seed, how many truth pixels per image, the flyby window (s), and
    changes of the surface since the basemap's epoch (:mod:`ioflyby.simulate.surface_change`;
    their exact areas and outlines go into ``truth.json``'s ``surface_changes``)."""

    images: tuple[SsiImage, ...] = SSI_IMAGES
    basemap: str | Path | None = None
    minnaert_k: float = 1.0
    noise: NoiseModel = field(default_factory=lambda: SSI_NOISE)
    effects: RenderEffects = field(default_factory=RenderEffects)
    seed: int = 0
    truth_pixels: int = 200
    window_s: float = 30000.0
    surface_changes: tuple[SurfaceChange, ...] = ()


def ssi_basemap(basemap: Basemap) -> Basemap:
    """``basemap`` with a band under every SSI filter name (:data:`BASEMAP_BAND`); its
    georeference and any surface changes are kept."""
    return dataclasses.replace(basemap, bands={**basemap.bands,
                                               **{name: basemap.bands[band] for name, band in BASEMAP_BAND.items()}})


class SsiRenderer(FrameletRenderer):
    """Renders SSI images (one framelet, 800 × 800 or 400 × 400) with the twin's surface model."""

    def __init__(self, camera: GalileoSSI, basemap: Basemap, target: str = "IO", minnaert_k: float = 1.0,
                 noise: NoiseModel = SSI_NOISE, effects: RenderEffects = RenderEffects()):
        super().__init__(camera, ssi_basemap(basemap), target, minnaert_k=minnaert_k, noise=noise,
                         observer=SPACECRAFT, effects=effects)
        lines, samples = np.mgrid[0:camera.framelet_lines, 0:camera.framelet_samples]
        self._grid = (samples.ravel(), lines.ravel())
        self._active2d = np.ones((camera.framelet_lines, camera.framelet_samples), bool)
        self._active = self._active2d.ravel()
        self._rays = {}

    @property
    def shape(self) -> tuple[int, int]:
        """(lines, samples) of an image."""
        return self.camera.framelet_lines, self.camera.framelet_samples

    def image_signal(self, filter_name: str, et: float, exposure_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, FrameletPoses]:
        """Noise-free signal DN [lines, samples] of an image at ``et`` (mid-exposure, ET), the flat
        indices of on-target pixel centres and their surface points (body-fixed km), the pose."""
        pose = FrameletPoses.from_spice(self.target, [et], self.observer, self.camera.frame)[0]
        signal = np.zeros(self.shape[0] * self.shape[1], np.float64)
        distance = float(np.linalg.norm(pose.target_position_km))
        if distance <= float(np.max(self.radii)):
            raise ScenarioError("the SSI twin's spacecraft is inside the target at an image epoch")
        direction = pose.camera_to_j2000.T @ (pose.target_position_km / distance)
        cos_limit = math.cos(math.asin(float(np.max(self.radii)) / distance) + 3e-3)
        scale = DN_PER_IF_PER_S[filter_name] * exposure_s * (REFERENCE_SUN_DISTANCE_KM / pose.sun_distance_km) ** 2
        index, points, i_over_f, _ = self._surface(filter_name, self.rays(filter_name), pose, direction, cos_limit, None)
        if self.effects.pixel_supersampling == 1:
            signal[index] = i_over_f * scale
        else:
            offsets = self._sub_offsets()
            for offset in offsets:
                sub_index, _, sub_if, _ = self._surface(filter_name, self.rays(filter_name, offset), pose, direction,
                                                        cos_limit, None)
                signal[sub_index] += sub_if * (scale / len(offsets))
        plane = signal.reshape(self.shape)
        if self.effects.surface_psf and self.effects.psf_sigma_px > 0:
            from scipy.ndimage import gaussian_filter

            plane = gaussian_filter(plane, self.effects.psf_sigma_px, mode="constant", truncate=4.0)
        return plane, index, points, pose

    def digitise_ssi(self, signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Signal DN → dark + shot + read noise → 8-bit linear DN (uint8, clipped at 255)."""
        noise = self.noise
        total = signal + noise.dark_dn
        sigma = np.sqrt(np.maximum(total, 0) / noise.gain_e_per_dn + noise.read_noise_dn**2)
        total = total + rng.standard_normal(total.shape) * sigma
        return np.clip(np.rint(total), 0, MAX_DN).astype(np.uint8)

    def render_image(self, filter_name: str, et: float, exposure_s: float, rng: np.random.Generator,
                     truth_pixels: int) -> tuple[np.ndarray, list[dict], int]:
        """The uint8 image at ``et``, a random sample of on-target pixel centres with their
        planetocentric lat/lon (truth), and the number of on-target pixels."""
        signal, index, points, _ = self.image_signal(filter_name, et, exposure_s)
        image = self.digitise_ssi(signal, rng)
        picks: list[dict] = []
        if index.size:
            chosen = rng.choice(index.size, size=min(truth_pixels, index.size), replace=False)
            lat, lon = planetocentric_latlon(points[chosen])
            samples = self.shape[1]
            for c, la, lo in zip(chosen, lat, lon):
                picks.append({"exposure": 0, "filter": filter_name, "sample": int(index[c] % samples),
                              "line": int(index[c] // samples), "et": et, "lat_deg": math.degrees(la),
                              "lon_east_deg": math.degrees(lo) % 360.0, "lon_west_deg": (-math.degrees(lo)) % 360.0})
        return image, picks, int(index.size)


# -- pointing -------------------------------------------------------------------------------------

def _camera_matrix(boresight: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Camera → J2000 rotation with +Z along ``boresight`` and +Y as near ``up`` as it can be."""
    z = boresight / np.linalg.norm(boresight)
    y = up - np.dot(up, z) * z
    y /= np.linalg.norm(y)
    return np.column_stack([np.cross(y, z), y, z])


def aim_camera(image: SsiImage, et: float, ifov_rad: float, target: str = "IO") -> np.ndarray:
    """The true camera → J2000 matrix of ``image`` at ``et`` (see the module docstring)."""
    with spice_errors(f"aiming SSI at {target}"):
        centre = np.asarray(spiceypy.spkpos(target, et, "J2000", "LT+S", SPACECRAFT)[0])
        pole = np.asarray(spiceypy.pxform(f"IAU_{target}", "J2000", et))[:, 2]
        radius = float(np.max(spiceypy.bodvrd(target, "RADII", 3)[1]))
    distance = float(np.linalg.norm(centre))
    c = centre / distance
    north = pole - np.dot(pole, c) * c
    north /= np.linalg.norm(north)
    east = np.cross(c, north)
    azimuth = math.radians(image.limb_azimuth_deg)
    toward = math.cos(azimuth) * north + math.sin(azimuth) * east
    if image.aim == "disc":
        boresight = c
    else:
        angle = math.asin(radius / distance) - image.limb_inside_px * ifov_rad
        boresight = math.cos(angle) * c + math.sin(angle) * toward
    twist = math.radians(image.twist_deg)
    up = math.cos(twist) * toward + math.sin(twist) * np.cross(c, toward)
    return _camera_matrix(boresight, up)


def pointing_error(image: SsiImage) -> np.ndarray:
    """R(axis_camera, angle): ``C_true = C_nominal · R``."""
    axis = np.asarray(image.error_axis_camera, float)
    if image.error_urad == 0.0:
        return np.eye(3)
    return np.asarray(spiceypy.axisar(axis / np.linalg.norm(axis), image.error_urad * 1e-6))


def _write_platform_ck(path: Path, epochs: Sequence[float], matrices: Sequence[np.ndarray], segment_id: str) -> Path:
    order = np.argsort(epochs)
    ets = np.array([epochs[i] + d for i in order for d in (-CK_HOLD_S, CK_HOLD_S)])
    rotations = np.array([matrices[i] for i in order for _ in (0, 1)])
    if np.any(np.diff(ets) <= 0):
        raise ScenarioError(f"SSI images closer than {2 * CK_HOLD_S:g} s apart: the scan platform cannot hold both")
    return write_ck(path, ets, rotations, np.zeros(3), frame_id=PLATFORM_FRAME_ID, sclk_id=tk.GALILEO_SPACECRAFT_ID,
                    segment_id=segment_id)


def galileo_clock(et: float) -> str:
    """SPACECRAFT_CLOCK_START_COUNT of an image at ``et``: ``RIM.MOD91`` (the twin's SCLK loaded)."""
    ticks = int(round(spiceypy.sce2c(tk.GALILEO_SPACECRAFT_ID, et)))
    per_rim = 91 * 10 * 8
    return f"{ticks // per_rim:08d}.{(ticks % per_rim) // 80:02d}"


def _whole_ms_et(et: float) -> float:
    """The epoch nearest ``et`` that a label's UTC with milliseconds names exactly."""
    return float(spiceypy.str2et(spiceypy.et2utc(et, "ISOC", 3)))


# -- the twin -------------------------------------------------------------------------------------

def _kernels(kdir: Path, scenario: Scenario, options: SsiTwinOptions) -> tuple[dict[str, Path], FlybyDesign]:
    files = {"lsk": tk.write_lsk(kdir / "twin_leapseconds.tls"), "pck": tk.write_pck(kdir / "twin_constants.tpc"),
             "sclk": tk.write_galileo_sclk(kdir / "twin_galileo_sclk.tsc"),
             "ik": tk.write_ssi_addendum(kdir / "twin_ssi_addendum.ti")}
    with Kernels([files["lsk"], files["pck"]]):
        ca_et = float(spiceypy.str2et(scenario.ca_time_utc))
        margin = max(options.window_s, 86400.0)
        files["ephemeris"] = write_ephemeris_spk(kdir / "twin_ephemeris.bsp", ca_et - margin, ca_et + margin)
    with Kernels([files["lsk"], files["pck"], files["ephemeris"]]):
        design = design_flyby(scenario.target, scenario.ca_time_utc, scenario.ca_altitude_km, scenario.ca_latitude_deg,
                              orbit=scenario.orbit, window_s=options.window_s, spacecraft_id=tk.GALILEO_SPACECRAFT_ID)
        files["spacecraft"] = write_spk(kdir / "twin_galileo_trajectory.bsp", [design.segment()],
                                        f"ioflyby twin {scenario.name} Galileo trajectory", label="ioflyby twin")
    return files, design


def build_ssi_twin(out: str | Path, options: SsiTwinOptions | None = None, scenario: Scenario | str = SCENARIO,
                   overwrite: bool = False, progress: Callable[[str, int, int], None] | None = None) -> Twin:
    """Build the Galileo SSI twin of ``scenario`` (galileo-i32) in ``out``: kernels, SSI REDR
    products (``Twin.products`` are their ``.LBL`` files), metakernels and ``truth.json``; the
    folder is published as one set (see the module docstring)."""
    scenario = get_scenario(scenario) if isinstance(scenario, str) else scenario
    options = options or SsiTwinOptions()
    if not options.images:
        raise ScenarioError("the SSI twin needs at least one planned image")
    out = Path(out).resolve()
    truth = build_and_publish(out, overwrite,
                              lambda tmp: _build_into(scenario, options, tmp, out, progress or (lambda *_: None)))
    return Twin(out / "twin.tm", [out / p["path"] for p in truth["products"]], truth)


def _build_into(scenario: Scenario, options: SsiTwinOptions, tmp: Path, final: Path,
                say: Callable[[str, int, int], None]) -> dict:
    began = time.perf_counter()
    kdir = tmp / "kernels"
    say("kernels", 0, 1)
    files, design = _kernels(kdir, scenario, options)
    base = [files[k] for k in ("lsk", "pck", "ephemeris", "spacecraft", "sclk", "ik")]
    ca_et = float(design.achieved["time_et"])
    with Kernels(base):
        epochs = [_whole_ms_et(float(spiceypy.str2et(scenario.ca_time_utc)) + im.offset_s) for im in options.images]
        ifov = GalileoSSI.from_kernel_pool().ifov_rad
        truths = [aim_camera(im, et, ifov, scenario.target) for im, et in zip(options.images, epochs)]
        nominals = [c @ pointing_error(im).T for im, c in zip(options.images, truths)]
        files["ck_truth"] = _write_platform_ck(kdir / "twin_ssi_platform_truth.bc", epochs, truths,
                                               "ioflyby twin SSI platform truth")
        files["ck"] = _write_platform_ck(kdir / "twin_ssi_platform.bc", epochs, nominals, "ioflyby twin SSI platform")
    truth_files = base + [files["ck_truth"]]
    nominal_files = base + [files["ck"]]
    for name, listed in (("twin.tm", nominal_files), ("twin_truth.tm", truth_files)):
        tk.write_metakernel(tmp / name, final, [os.path.relpath(p, tmp) for p in listed])
    basemap = apply_surface_changes(load_basemap(options.basemap), options.surface_changes)
    rng = np.random.default_rng(options.seed)
    products = []
    with Kernels(truth_files):
        for k, (image, et) in enumerate(zip(options.images, epochs), start=1):
            say("rendering SSI images", k - 1, len(options.images))
            camera = GalileoSSI.for_epoch(et, summing=image.summing)
            renderer = SsiRenderer(camera, basemap, scenario.target, options.minnaert_k, options.noise, options.effects)
            clock = time.perf_counter()
            pixels, picks, on_target = renderer.render_image(image.filter, et, image.exposure_ms * 1e-3, rng,
                                                             options.truth_pixels)
            image_id = f"G{scenario.orbit_number:02d}I{k:04d}"
            label = write_ssi_product(tmp / "products" / image_id, pixels, image_id=image_id,
                                      image_time_utc=spiceypy.et2utc(et, "ISOC", 3), exposure_ms=image.exposure_ms,
                                      filter_name=image.filter, target=scenario.target, spacecraft_clock=galileo_clock(et),
                                      observation_id=f"I{scenario.orbit_number}IOTWIN{k:02d}", orbit=f"I{scenario.orbit_number}")
            products.append({
                "product_id": image_id, "path": os.path.relpath(label, tmp), "image_time_utc": et_to_utc(et, 3),
                "image_time_et": et, "offset_from_ca_s": et - ca_et, "filter": image.filter,
                "exposure_ms": image.exposure_ms, "summing": image.summing, "aim": image.aim,
                "lines": int(pixels.shape[0]), "samples": int(pixels.shape[1]),
                "camera_to_j2000_true": truths[k - 1].tolist(), "camera_to_j2000_nominal": nominals[k - 1].tolist(),
                "pointing_error": {"angle_urad": image.error_urad, "axis_camera": list(image.error_axis_camera),
                                   "angle_px": image.error_urad * 1e-6 / camera.ifov_rad},
                "render_seconds": round(time.perf_counter() - clock, 3), "target_pixels": on_target, "pixels": picks,
            })
    say("rendering SSI images", len(options.images), len(options.images))
    truth = _truth_document(scenario, options, design, basemap.path, files, tmp, products)
    truth["build_seconds"] = round(time.perf_counter() - began, 3)
    atomic_write_text(tmp / "truth.json", json.dumps(truth, indent=2) + "\n")
    return truth


def _truth_document(scenario: Scenario, options: SsiTwinOptions, design: FlybyDesign, basemap_path: Path,
                    files: dict[str, Path], tmp: Path, products: list[dict]) -> dict:
    return {
        "scenario": scenario.name,
        "instrument": "GALILEO_SSI",
        "description": f"{scenario.description.split(',')[0]}: Galileo SSI framing images",
        "note": "a digital twin: C/A time and altitude as published, everything else modelled",
        "target": scenario.target,
        "spacecraft_id": design.spacecraft_id,
        "requested_ca": design.requested,
        "achieved_ca": design.achieved,
        "approach": {"relative_speed_km_s": design.info["relative_speed_km_s"], "model": design.info["model"]},
        "injected": {
            "pointing_convention": ("C_true(GLL_SSI_PLATFORM->J2000) = C_nominal * R(axis_camera, angle); twin.tm has "
                                    "the nominal CK, twin_truth.tm the true one"),
            "timing": "image epoch = label IMAGE_TIME (mid-exposure), exactly",
        },
        "basemap": {"path": str(basemap_path), "longitude_convention": LONGITUDE_CONVENTION,
                    "band_mapping": {name: band for name, band in BASEMAP_BAND.items()},
                    "bands": "BLUE/GREEN/RED = B/G/R channels, METHANE = grey mean; albedo = 0.9 * value/255"},
        "photometry": {"model": "Minnaert" if options.minnaert_k != 1.0 else "Lambert", "minnaert_k": options.minnaert_k},
        "radiometry": {"dn_per_if_per_s": DN_PER_IF_PER_S, "reference_sun_distance_au": 5.2, "max_dn": MAX_DN},
        "noise": asdict(options.noise),
        "effects": asdict(options.effects),
        "surface_changes": [c.to_dict() for c in options.surface_changes],
        "seed": options.seed,
        "kernels": {"metakernel": "twin.tm", "truth_metakernel": "twin_truth.tm",
                    **{k: os.path.relpath(v, tmp) for k, v in files.items()}},
        "products": products,
    }


__all__ = ["BASEMAP_BAND", "DN_PER_IF_PER_S", "SSI_IMAGES", "SSI_NOISE", "SSI_SCENARIOS", "SsiImage", "SsiRenderer", "SsiTwinOptions",
           "aim_camera", "build_ssi_twin", "galileo_clock", "pointing_error", "ssi_basemap"]
