"""Errors a user can cause. Each message says what went wrong and what to do about it.

The CLI prints an ``IoflybyError`` as one line and exits with status 2; anything else is a bug.
"""


class IoflybyError(Exception):
    """Base class for every error that bad input, missing data or a wrong option can cause.

    Its text is always one line: control characters that input may carry into a message (a
    newline in a file name or a label value) are shown escaped.
    """

    def __str__(self) -> str:
        text = super().__str__()
        return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class KernelError(IoflybyError):
    """A SPICE kernel is missing, unreadable, or lacks the data (coverage, keyword) asked for."""


class CoverageError(KernelError):
    """The loaded kernels hold no data for a body, frame or instrument at the requested time."""


class MissingAttitudeError(CoverageError):
    """No attitude kernel (CK) covers a product: its pointing must be solved from the image.

    ``product_id`` and ``reason`` (the SPICE error) let a caller word its own advice.
    """

    def __init__(self, product_id: str, reason: str, advice: str):
        super().__init__(f"{product_id}: no attitude kernel (CK) covers the image time: {advice} (SPICE: {reason})")
        self.product_id = product_id
        self.reason = reason


class ProductError(IoflybyError):
    """A raw product (PNG + JSON, zip, PDS3 EDR) is malformed or inconsistent."""


class CalibrationError(IoflybyError):
    """Calibration frames are missing or do not match the product."""


class FetchError(IoflybyError):
    """Downloading kernels or products failed (network, listing, size mismatch)."""


class GeometryError(IoflybyError):
    """A geometric computation cannot be done (target not in view, bad projection parameters)."""


class PointingError(IoflybyError):
    """The pointing solve failed (no limb found, no convergence)."""


class ScenarioError(IoflybyError):
    """A simulation scenario or flyby design is invalid or cannot be achieved."""


class OutputError(IoflybyError):
    """An output cannot be written: the folder is a file, read-only, full, or in use by another run."""
