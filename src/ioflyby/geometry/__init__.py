"""Per-framelet pose (SPICE) and vectorised surface geometry (numpy): intercepts, limb,
illumination angles and backplanes."""

from ioflyby.geometry.backplanes import Backplanes, framelet_backplanes
from ioflyby.geometry.pose import (
    SPEED_OF_LIGHT_KM_S,
    FrameletPose,
    body_frame_name,
    framelet_pose,
    framelet_pose_with_attitude,
    framelet_poses,
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
    "SPEED_OF_LIGHT_KM_S",
    "Backplanes",
    "FrameletPose",
    "SpinAttitude",
    "body_frame_name",
    "camera_to_spacecraft",
    "framelet_backplanes",
    "framelet_mid_ets",
    "framelet_pose",
    "framelet_pose_with_attitude",
    "framelet_poses",
    "illumination_angles",
    "intersect_ellipsoid",
    "latlon_to_surface",
    "limb_distance",
    "planetocentric_latlon",
    "stellar_aberration",
    "surface_normals",
    "target_radii",
]
