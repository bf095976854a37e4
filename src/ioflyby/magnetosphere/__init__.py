"""Io (or Juno, or any SPICE body) in Jupiter's magnetosphere: System III longitude, local time,
magnetic and centrifugal latitude, field (JRM33 + Con2020), M-shell and ionospheric footprints
(own field-line tracer), Jupiter's shadow, a torus density model; tests of activity against them.

Kernels must be loaded (``with io.Kernels(...)``) for :func:`magnetospheric_context`; the field
models, tracer and correlation tests need none. See docs/magnetosphere.md.
"""

from ioflyby.magnetosphere.context import (
    IO_SUMMARY_CONVENTION,
    IO_SUMMARY_KEYS,
    ContextSample,
    MagnetosphericContext,
    io_context,
    io_context_summaries,
    magnetospheric_context,
)
from ioflyby.magnetosphere.correlate import (
    LaggedCorrelation,
    TestResult,
    lagged_correlation,
    linear_dependence,
    phase_dependence,
    rayleigh_test,
)
from ioflyby.magnetosphere.equators import (
    centrifugal_coordinates,
    centrifugal_equator_latitude,
    magnetic_latitude,
    torus_density,
)
from ioflyby.magnetosphere.models import R_J_KM, FieldModel, dipole_axis, jrm33_coefficients
from ioflyby.magnetosphere.trace import Traces, trace_field_lines


def magnetosphere_report_section(*args, **kwargs):
    """See :func:`ioflyby.magnetosphere.section.magnetosphere_report_section` (imports matplotlib)."""
    from ioflyby.magnetosphere.section import magnetosphere_report_section as build

    return build(*args, **kwargs)


__all__ = [
    "IO_SUMMARY_CONVENTION",
    "IO_SUMMARY_KEYS",
    "R_J_KM",
    "ContextSample",
    "FieldModel",
    "LaggedCorrelation",
    "MagnetosphericContext",
    "TestResult",
    "Traces",
    "centrifugal_coordinates",
    "centrifugal_equator_latitude",
    "dipole_axis",
    "io_context",
    "io_context_summaries",
    "jrm33_coefficients",
    "lagged_correlation",
    "linear_dependence",
    "magnetic_latitude",
    "magnetosphere_report_section",
    "magnetospheric_context",
    "phase_dependence",
    "rayleigh_test",
    "torus_density",
    "trace_field_lines",
]
