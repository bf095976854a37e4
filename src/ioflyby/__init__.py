"""ioflyby: JunoCam raw products to maps of Io, flyby geometry and a SPICE-built flyby twin.

Stages live in one package each and data flows one way through them:
``spice`` → ``camera`` → ``ingest`` → ``calibrate`` → ``geometry`` / ``pointing`` → ``mapping``,
with ``flyby`` and ``simulate`` (the digital twin) beside them.
"""

from ioflyby.errors import IoflybyError

__version__ = "0.1.0"
__all__ = ["IoflybyError", "__version__"]
