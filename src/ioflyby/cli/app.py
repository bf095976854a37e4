"""Root typer application and the error policy shared by every verb."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from ioflyby import __version__
from ioflyby.errors import IoflybyError

app = typer.Typer(
    name="ioflyby",
    help=(
        "JunoCam raw products to calibrated, map-projected images of Io (or any body), "
        "flyby geometry from SPICE kernels, and a SPICE-built flyby digital twin."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts contain [default: …] and other brackets, shown verbatim
)
err_console = Console(stderr=True)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"ioflyby {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """ioflyby: after a close flyby of Io, from raw JunoCam products to maps and geometry."""


def _register_verbs() -> None:
    # Imported for their side effect of adding verbs to ``app``; kept in one place.
    from ioflyby.cli import (
        demo_cmd,  # noqa: F401
        flyby_cmd,  # noqa: F401
        ingest_cmd,  # noqa: F401
        kernels_cmd,  # noqa: F401
        pointing_cmd,  # noqa: F401
        process_cmd,  # noqa: F401
        simulate_cmd,  # noqa: F401
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; print an IoflybyError as one line on stderr and exit 2.

    Usage errors, ``--help`` and exit codes are handled by click (standalone mode).
    """
    _register_verbs()
    try:
        app(args=argv)
    except IoflybyError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True, markup=True)
        sys.exit(2)
