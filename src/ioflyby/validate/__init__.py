"""Validation of our products against independent references.

- :mod:`~ioflyby.validate.mapprojected` — the JunoCam team's ``-mapprojected.png`` view
  (:func:`view_from_label`) and our map GeoTIFFs resampled into it (:func:`resample_geotiff`).
- :mod:`~ioflyby.validate.teammap` — registration of one of our maps against the team's
  (:func:`compare_with_reference`: offset by phase correlation, correlation, rotation;
  :func:`offset_budget`: what the offset is made of).
- :mod:`~ioflyby.validate.twin` — accuracy against the digital twin's truth: solved pointing vs
  the truth CK (:func:`pointing_errors`), map vs the twin's basemap (:func:`basemap_correlation`).
"""

from ioflyby.validate.mapprojected import (
    MapprojectedView,
    north_angle_deg,
    process_options,
    resample_geotiff,
    view_from_label,
)
from ioflyby.validate.teammap import (
    channel_offsets,
    compare_with_reference,
    fit_similarity,
    load_grey,
    offset_budget,
    offset_field,
)
from ioflyby.validate.twin import basemap_correlation, framelet_pointing_errors, pointing_errors

__all__ = [
    "MapprojectedView",
    "basemap_correlation",
    "channel_offsets",
    "compare_with_reference",
    "fit_similarity",
    "framelet_pointing_errors",
    "load_grey",
    "north_angle_deg",
    "offset_budget",
    "offset_field",
    "pointing_errors",
    "process_options",
    "resample_geotiff",
    "view_from_label",
]
