"""A target body as SPICE knows it: name, NAIF id, tri-axial radii and body-fixed frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import spiceypy

from ioflyby.spice import spice_errors


@dataclass(frozen=True)
class Body:
    """A target body. ``radii_km``: ellipsoid semi-axes (a, b, c), km; ``frame``: its body-fixed
    frame (``IAU_IO``), in which latitudes are planetocentric and longitudes east-positive."""

    name: str
    naif_id: int
    radii_km: np.ndarray
    frame: str

    @classmethod
    def from_spice(cls, name: str) -> Body:
        """The body ``name`` (any SPICE name or id, case-insensitive) from the loaded PCK and FK."""
        with spice_errors(f"looking up the body {name} (load a PCK such as pck00010.tpc)"):
            naif_id = int(spiceypy.bods2c(name.strip().upper()))
            canonical = spiceypy.bodc2n(naif_id)
            _, radii = spiceypy.bodvcd(naif_id, "RADII", 3)
            _, frame = spiceypy.cidfrm(naif_id)
        return cls(canonical, naif_id, np.asarray(radii, float), frame)
