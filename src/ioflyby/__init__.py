"""ioflyby: JunoCam raw products to maps of Io, flyby geometry and a SPICE-built flyby twin.

The notebook API (docs/api.md)::

    import ioflyby as io
    product = io.read_product("JNCE_2023364_57C00002_V01")
    with io.Kernels("twin.tm"):
        obs = io.Observation(product)
        lat, lon = obs.pixel_to_lonlat("GREEN", exposure=9)

Stages live in one package each and data flows one way through them:
``spice`` → ``camera`` → ``ingest`` → ``calibrate`` → ``geometry`` / ``pointing`` →
``observation`` → ``mapping`` → ``process``, with ``flyby`` and ``simulate`` (the digital twin)
beside them. Names are imported on first use, so ``import ioflyby`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module

from ioflyby.errors import IoflybyError

__version__ = "0.1.0"

_EXPORTS = {
    "Kernels": "ioflyby.spice",
    "read_product": "ioflyby.ingest",
    "RawProduct": "ioflyby.ingest",
    "Body": "ioflyby.geometry",
    "FrameletPoses": "ioflyby.geometry",
    "Observation": "ioflyby.observation",
    "solve_pointing": "ioflyby.observation",
    "PointingSolution": "ioflyby.pointing",
    "PointingRefused": "ioflyby.pointing",
    "solve_joint": "ioflyby.pointing.joint",
    "MapGrid": "ioflyby.mapping.grid",
    "MapProduct": "ioflyby.mapping.product",
    "MapSpec": "ioflyby.processing",
    "ProcessResult": "ioflyby.processing",
    "process": "ioflyby.processing",
    "build_twin": "ioflyby.simulate",
    "Twin": "ioflyby.simulate",
    "find_encounters": "ioflyby.flyby",
    "EncounterCase": "ioflyby.flyby.compare",
    "compare_encounters": "ioflyby.flyby.compare",
}

__all__ = ["IoflybyError", "__version__", *_EXPORTS]

def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ioflyby' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
