"""The CLI's wording of library errors: library parameter names become the verb's flags."""

from __future__ import annotations

import pytest

from ioflyby.cli.output import flag_names
from ioflyby.errors import GeometryError, MissingAttitudeError


def test_library_parameters_become_flags_whole_words_only():
    with pytest.raises(GeometryError) as info, flag_names({"resolution_km": "--resolution-km", "width": "--width"}):
        raise GeometryError("map resolution_km must be positive; bandwidth, width_px and width stay apart")
    assert str(info.value) == "map --resolution-km must be positive; bandwidth, width_px and --width stay apart"


def test_the_missing_attitude_advice_names_the_flag_and_keeps_its_type():
    with pytest.raises(MissingAttitudeError) as info, flag_names({"pointing='solve'": "--solve-pointing"}):
        raise MissingAttitudeError("P1", "no CK", "solve the pointing from the image instead (pointing='solve')")
    assert "instead (--solve-pointing)" in str(info.value) and "pointing='solve'" not in str(info.value)
    assert info.value.product_id == "P1"
