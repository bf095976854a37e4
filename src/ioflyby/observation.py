"""The notebook face of ioflyby: one raw product with its camera, body, framelet times and poses.

>>> import ioflyby as io                                                    # doctest: +SKIP
>>> with io.Kernels("twin.tm"):
...     obs = io.Observation(io.read_product("JNCE_2023364_57C00002_V01"))
...     lat, lon = obs.pixel_to_lonlat("GREEN", exposure=9)

Conventions (docs/api.md): arguments and results in degrees, planetocentric latitude,
east-positive longitude in [0, 360); pixel (sample, line) with the centre of the upper-left
pixel at (0, 0); times in s past J2000 TDB. Returned arrays are read-only. SPICE is needed only
while an Observation is built (and its pointing solved); pixel ⇄ surface conversions and maps
use the poses it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ioflyby.camera import Camera, camera_for_product
from ioflyby.errors import CoverageError, GeometryError, MissingAttitudeError, PointingError
from ioflyby.geometry import (
    Backplanes,
    Body,
    FrameletPoses,
    framelet_backplanes,
    framelet_mid_ets,
    latlon_to_surface,
    planetocentric_latlon,
    surface_normals,
)
from ioflyby.geometry.timing import ProductStart, camera_clock_id, product_start
from ioflyby.ingest import RawProduct
from ioflyby.mapping.grid import MapGrid
from ioflyby.mapping.product import MapProduct
from ioflyby.mapping.reproject import Framelets, reproject
from ioflyby.pointing import PointingSolution, solve_loaded
from ioflyby.pointing.reference import ReferenceMap

if TYPE_CHECKING:
    import pandas as pd


class SubObserverPoint(NamedTuple):
    """The spacecraft seen from the body centre: planetocentric lat, east lon (deg), range (km)."""

    lat: float
    lon: float
    distance_km: float


@dataclass(frozen=True)
class PixelLocations:
    """Where surface points fall in the framelets that see them: one entry per (point, framelet).

    ``point`` indexes the flattened input points; ``exposure``/``filter`` name the framelet;
    ``sample``/``line`` are pixel coordinates (centre of the upper-left pixel = (0, 0));
    ``emission_deg`` is the emission angle at the point.
    """

    point: np.ndarray
    exposure: np.ndarray
    filter: np.ndarray
    sample: np.ndarray
    line: np.ndarray
    emission_deg: np.ndarray

    def __len__(self) -> int:
        return int(self.point.size)


_LOCATION_DTYPES = (np.int64, np.int64, object, np.float64, np.float64, np.float64)


def _read_only(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    for array in arrays:
        array.flags.writeable = False
    return arrays


class Observation:
    """A product, its camera model, target body, nominal framelet epochs and per-framelet poses.

    Build it while the kernels are loaded (LSK, SCLK, PCK, FK, IK, SPK). When a CK covers the
    product the poses come from it; otherwise solve the pointing from the image and attach it:
    ``obs = obs.with_pointing(io.solve_pointing(obs))``. Any camera behind
    :class:`ioflyby.camera.Camera` works: a JunoCam product has framelets [exposure, filter] of
    128 × 1648 pixels, a Galileo SSI image is one framelet (exposure 0, its filter) of 800 × 800
    (or 400 × 400 summed) whose epoch is the label's IMAGE_TIME and whose CK frame is
    GLL_SSI_PLATFORM.

    Attributes:
        product: the raw product.
        camera: the camera model (``ioflyby.camera.camera_for_product`` from the kernel pool unless given).
        observer: the spacecraft's NAIF name (the camera's unless given).
        body: the target (``product.target`` unless given).
        framelet_ets: nominal mid-exposure epochs [exposure, filter], s past J2000 TDB.
        pointing: the solved pointing whose poses this observation holds, or None (CK poses).
        missing_poses_reason: why no poses came from the kernels ("" when they did or were given).
        start: the product's start epoch and where it came from (the spacecraft clock through the
            SCLK, or START_TIME and why; see :attr:`time_source`).
    """

    def __init__(
        self,
        product: RawProduct,
        *,
        camera: Camera | None = None,
        body: Body | None = None,
        poses: FrameletPoses | None = None,
        pointing: PointingSolution | None = None,
        observer: str | None = None,
    ):
        self.product = product
        self.camera = camera or camera_for_product(product)
        self.body = body or Body.from_spice(product.target)
        self.observer = observer or self.camera.spacecraft
        self.start: ProductStart = product_start(product, camera_clock_id(self.camera))
        (self.framelet_ets,) = _read_only(framelet_mid_ets(product, self.camera, self.start))
        self.missing_poses_reason = ""
        if poses is None:
            try:
                poses = FrameletPoses.from_spice(self.body.name, self.framelet_ets, self.observer, self.camera.frame)
            except CoverageError as exc:
                self.missing_poses_reason = str(exc)
        if poses is not None and len(poses) != self.framelet_ets.size:
            raise GeometryError(
                f"{product.product_id}: {len(poses)} poses for {self.framelet_ets.size} framelets "
                f"({product.n_exposures} exposures x {len(product.filters)} filters)"
            )
        self._poses = poses
        self.pointing = pointing

    def __repr__(self) -> str:
        source = "no poses" if self._poses is None else ("solved pointing" if self.pointing else "CK poses")
        return (f"Observation({self.product.product_id}, {self.body.name}, {self.product.n_exposures} exposures x "
                f"{'/'.join(self.product.filters)}, {source})")

    # -- poses ------------------------------------------------------------------------------------
    @property
    def time_source(self) -> str:
        """Where the framelet epochs' start came from: "sclk" (the label's clock count through the
        loaded SCLK) or "start_time" (the label's UTC START_TIME; ``start.note`` says why)."""
        return self.start.source

    @property
    def has_poses(self) -> bool:
        """Whether poses are known (from a CK or a solved pointing)."""
        return self._poses is not None

    @property
    def poses(self) -> FrameletPoses:
        """Poses of every framelet, exposure-major (index ``exposure * n_filters + filter``)."""
        if self._poses is None:
            raise MissingAttitudeError(
                self.product.product_id, self.missing_poses_reason,
                "solve the pointing from the image: obs = obs.with_pointing(ioflyby.solve_pointing(obs))",
            )
        return self._poses

    def with_pointing(self, solution: PointingSolution, accept_degraded: bool = False) -> Observation:
        """This observation with the poses of a solved pointing (kernels loaded: the ephemeris is
        evaluated at the solution's true framelet epochs). A solution its quality gates refused
        raises :class:`ioflyby.pointing.PointingRefused` unless ``accept_degraded``."""
        if solution.product_id != self.product.product_id:
            raise PointingError(f"pointing solved for {solution.product_id}, not {self.product.product_id}")
        solution.require_usable(accept_degraded)
        poses = solution.framelet_poses(self.framelet_ets, self.body.name, self.observer, self.camera.frame)
        return Observation(self.product, camera=self.camera, body=self.body, poses=poses, pointing=solution,
                           observer=self.observer)

    def framelet_index(self, filter_name: str, exposure: int) -> int:
        """Index into :attr:`poses` of framelet (``filter_name``, ``exposure``)."""
        name = filter_name.strip().upper()
        if name not in self.product.filters:
            raise GeometryError(f"{self.product.product_id} has no {filter_name!r} framelets: "
                                f"its filters are {', '.join(self.product.filters)}")
        if not 0 <= int(exposure) < self.product.n_exposures:
            raise GeometryError(f"exposure {exposure} is outside 0..{self.product.n_exposures - 1}")
        return int(exposure) * len(self.product.filters) + self.product.filters.index(name)

    @property
    def sub_observer(self) -> SubObserverPoint:
        """Sub-spacecraft point at the middle framelet (body-fixed, centre light time)."""
        middle = self.product.n_exposures // 2 * len(self.product.filters) + len(self.product.filters) // 2
        observer = self.poses[middle].observer_km
        distance = float(np.linalg.norm(observer))
        lat, lon = planetocentric_latlon(observer)
        return SubObserverPoint(float(np.degrees(lat)), float(np.degrees(lon)) % 360.0, distance)

    # -- pixel ⇄ surface --------------------------------------------------------------------------
    def backplanes(
        self, filter_name: str, exposure: int, sample: np.ndarray | None = None, line: np.ndarray | None = None
    ) -> Backplanes:
        """Per-pixel geometry of one framelet (the whole framelet, ``camera.framelet_lines`` x
        ``framelet_samples``, unless pixel coordinates are given): surface points, lat/lon, incidence/emission/phase, range, km/px,
        epoch; NaN off the target. Fields in radians and km, ``*_deg`` properties in degrees."""
        index = self.framelet_index(filter_name, exposure)
        if sample is None and line is None:
            line, sample = np.mgrid[0:self.camera.framelet_lines, 0:self.camera.framelet_samples].astype(float)
        elif sample is None or line is None:
            raise GeometryError("give both sample and line, or neither (the whole framelet)")
        planes = framelet_backplanes(self.camera, filter_name.upper(), self.poses[index], self.body.radii_km,
                                     np.asarray(sample, float), np.asarray(line, float))
        _read_only(*(value for value in vars(planes).values() if isinstance(value, np.ndarray)))
        return planes

    def pixel_to_lonlat(
        self, filter_name: str, exposure: int, sample: np.ndarray | None = None, line: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(planetocentric latitude, east longitude in [0, 360)) in degrees of framelet pixels
        (the whole framelet unless given; any broadcastable shapes); NaN off the target."""
        planes = self.backplanes(filter_name, exposure, sample, line)
        return _read_only(planes.lat_deg, planes.lon_east_deg)

    def lonlat_to_pixel(self, lat: np.ndarray | float, lon: np.ndarray | float) -> PixelLocations:
        """Every framelet pixel that sees the surface points at planetocentric ``lat`` and east
        ``lon`` (degrees, broadcast): inside the photoactive area and on the side facing the
        camera (emission < 90°). Exact inverse of :meth:`pixel_to_lonlat`."""
        lat, lon = np.broadcast_arrays(np.asarray(lat, float), np.asarray(lon, float))
        points = latlon_to_surface(np.radians(lat.ravel()), np.radians(lon.ravel()), self.body.radii_km)
        normals = surface_normals(points, self.body.radii_km)
        columns: tuple[list[np.ndarray], ...] = tuple([] for _ in _LOCATION_DTYPES)
        n_filters = len(self.product.filters)
        for index in range(len(self.poses)):
            pose = self.poses[index]
            exposure, filter_index = divmod(index, n_filters)
            name = self.product.filters[filter_index]
            to_observer = pose.observer_km - points
            cos_emission = np.einsum("ij,ij->i", normals, to_observer) / np.linalg.norm(to_observer, axis=1)
            facing = np.nonzero(cos_emission > 0)[0]
            sample, line = self.camera.ray_to_pixel(name, pose.surface_to_rays(points[facing]))
            inside = self.camera.in_photoactive_area(sample, line)
            chosen = facing[inside]
            values = (chosen, np.full(chosen.size, exposure), np.full(chosen.size, name, dtype=object),
                      sample[inside], line[inside], np.degrees(np.arccos(cos_emission[chosen])))
            for column, value in zip(columns, values):
                column.append(value)
        arrays = [np.concatenate(column).astype(dtype) if column else np.zeros(0, dtype)
                  for column, dtype in zip(columns, _LOCATION_DTYPES)]
        return PixelLocations(*_read_only(*arrays))

    def visible_features(self, catalogue: pd.DataFrame | None = None, min_power_gw: float | None = None) -> pd.DataFrame:
        """Io's catalogued volcanic centres and hot spots (:mod:`ioflyby.volcano.catalogue`; default
        every source) that the framelets see, one row per (feature, framelet): name, lat/lon, pixel
        (sample, line) from :meth:`lonlat_to_pixel`, emission and incidence angles, ``lit``; see
        :func:`ioflyby.volcano.labels.visible_features`."""
        from ioflyby.volcano.labels import visible_features

        return visible_features(self, catalogue, min_power_gw)

    # -- maps -------------------------------------------------------------------------------------
    def map(
        self,
        grid: MapGrid,
        photometry: str = "none",
        minnaert_k: float = 0.7,
        overlap: str = "feather",
        backplanes: bool = True,
        images: np.ndarray | None = None,
    ) -> MapProduct:
        """Reproject the framelets onto ``grid`` (in memory). ``images``: linear framelets
        [exposure, filter, lines, samples] (default: the decompanded DN); see
        :func:`ioflyby.mapping.reproject.reproject` for the options."""
        data = self.product.decompanded() if images is None else np.asarray(images)
        n_exposures, n_filters = data.shape[:2]
        if (n_exposures, n_filters) != self.framelet_ets.shape:
            raise GeometryError(f"images hold {n_exposures} x {n_filters} framelets; "
                                f"{self.product.product_id} has {self.framelet_ets.shape[0]} x {self.framelet_ets.shape[1]}")
        framelets = Framelets(
            images=data.reshape(n_exposures * n_filters, *data.shape[2:]),
            channel=np.tile(np.arange(n_filters), n_exposures),
            channel_names=tuple(self.product.filters),
            poses=self.poses,
            filters=list(self.product.filters) * n_exposures,
        )
        mapped = reproject(framelets, self.camera, self.body.radii_km, grid, photometry=photometry,
                           minnaert_k=minnaert_k, overlap=overlap, backplanes=backplanes)
        mapped.meta["instrument"] = self.product.instrument
        return mapped


def solve_pointing(
    observation: Observation, prior: str = "auto", align: bool = True, reference: ReferenceMap | str | Path | None = None,
) -> PointingSolution:
    """Solve ``observation``'s pointing from the target's limb (kernels loaded): timing offset
    (from a CK), spin axis, phase and rate and, with ``align``, a two-angle camera alignment.
    ``prior``: "auto" (the CK when one covers the product, else a global search), "ck" or
    "search". ``reference``: a reference map of the target (a global equirectangular mosaic file
    read by :func:`reference_map`, or a :class:`ioflyby.pointing.ReferenceMap`): the limb solve is
    then refined with tie points to its surface features (``ioflyby.pointing.surface``), which fix
    what a short limb leaves loose; the report names the map and gives the tie-point residuals.
    The solution carries its quality verdict (``solution.quality``); attach it with
    :meth:`Observation.with_pointing`, which refuses a refused one unless asked to accept it.
    A framing camera (``camera.is_framing``: Galileo SSI) is solved as three angles of one camera
    matrix from its CK pose (:func:`ioflyby.pointing.framing.solve_framing`: limb and/or tie points)."""
    if observation.camera.is_framing:
        return _solve_framing(observation, reference)
    if reference is None:
        return solve_loaded(observation.product, prior=prior, align=align, camera=observation.camera)
    import time

    from ioflyby.pointing.solve import prepare
    from ioflyby.pointing.surface import solve_with_reference

    if not isinstance(reference, ReferenceMap):
        reference = reference_map(reference)
    clock = time.perf_counter()
    solution = solve_with_reference(prepare(observation.product, prior, observation.camera), reference, align)[0]
    solution.seconds = time.perf_counter() - clock
    return solution


def _solve_framing(observation: Observation, reference: ReferenceMap | str | Path | None):
    from ioflyby.pointing.framing import solve_framing

    if not observation.has_poses:
        raise PointingError(f"{observation.product.product_id}: a framing image is pointed from its CK: load the "
                            f"scan-platform CK covering it ({observation.missing_poses_reason})")
    if reference is not None and not isinstance(reference, ReferenceMap):
        reference = reference_map(reference)
    return solve_framing(observation.product, observation.camera, observation.poses[0], observation.body.radii_km,
                         reference, observer=observation.observer)


def reference_map(path: str | Path) -> ReferenceMap:
    """A reference map for :func:`solve_pointing` from a global equirectangular mosaic file (read
    by ``ioflyby.simulate.basemap.load_basemap``: left edge 0°E, east-positive, top 90°N, such as
    the USGS Io mosaics); its grey level (the mean of the colour channels) is used. A known
    mosaic is read with its declared georeference
    (``ioflyby.pointing.reference.KNOWN_GEOREFERENCES``: the newer Io photomosaic's rows are not
    planetocentric latitude); any other file's registration counts as unknown (σ 0.3°)."""
    from ioflyby.pointing.reference import KNOWN_GEOREFERENCES, Georeference
    from ioflyby.simulate.basemap import load_basemap

    basemap = load_basemap(path, georeferenced=False)  # ReferenceMap applies the georeference
    return ReferenceMap(basemap.bands["METHANE"], name=Path(path).name, source=str(basemap.path),
                        georeference=KNOWN_GEOREFERENCES.get(Path(path).name, Georeference()))
