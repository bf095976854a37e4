"""Bodies, the one pose type (per-framelet, from SPICE or a solved pointing) and vectorised
surface geometry (numpy): intercepts, limb, illumination angles and backplanes."""

from ioflyby.geometry.backplanes import Backplanes, framelet_backplanes
from ioflyby.geometry.body import Body
from ioflyby.geometry.poses import (
    POSE_WIDTH,
    SPEED_OF_LIGHT_KM_S,
    FrameletPoses,
    body_frame_name,
    stellar_aberration,
    target_radii,
)
from ioflyby.geometry.spin import SpinAttitude, camera_to_spacecraft
from ioflyby.geometry.surface import (
    illumination_angles,
    intersect_ellipsoid,
    latlon_to_surface,
    limb_distance,
    planetocentric_latlon,
    surface_normals,
)
from ioflyby.geometry.timing import framelet_mid_ets

__all__ = [
    "POSE_WIDTH",
    "SPEED_OF_LIGHT_KM_S",
    "Backplanes",
    "Body",
    "FrameletPoses",
    "SpinAttitude",
    "body_frame_name",
    "camera_to_spacecraft",
    "framelet_backplanes",
    "framelet_mid_ets",
    "illumination_angles",
    "intersect_ellipsoid",
    "latlon_to_surface",
    "limb_distance",
    "planetocentric_latlon",
    "stellar_aberration",
    "surface_normals",
    "target_radii",
]
