"""A read-only web viewer of ioflyby outputs (``ioflyby serve DIR``): maps as tiles in Io's own CRS,
the volcano catalogue and hot spots, epochs, products and flybys (docs/viewer.md)."""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(*args, **kwargs):
    """:func:`ioflyby.viewer.app.create_app` (imported on first use)."""
    from ioflyby.viewer.app import create_app as create

    return create(*args, **kwargs)
