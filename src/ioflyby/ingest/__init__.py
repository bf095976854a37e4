"""Ingest JunoCam raw products: website PNG + Metadata JSON (or their zips) and PDS3 EDRs.

``read_product(path)`` returns an immutable ``RawProduct`` (framelet cube
``[exposure, filter, 128, 1648]`` of stored DN plus label values); ``decompand`` turns stored
8-bit values into linear 12-bit DN by SAMPLE_BIT_MODE_ID; ``compand_sqroot`` goes the other way
(for simulated products); ``write_product`` writes the website format.
"""

from ioflyby.ingest.companding import (
    KNOWN_MODES,
    SQROOT_MAX_DN,
    SQROOT_TABLE,
    compand_sqroot,
    decompand,
    decompanding_table,
)
from ioflyby.ingest.product import MAX_LINES, RawProduct
from ioflyby.ingest.readers import read_product
from ioflyby.ingest.writer import write_product

__all__ = [
    "KNOWN_MODES",
    "MAX_LINES",
    "SQROOT_MAX_DN",
    "SQROOT_TABLE",
    "RawProduct",
    "compand_sqroot",
    "decompand",
    "decompanding_table",
    "read_product",
    "write_product",
]
