"""Root typer application, the table of verbs (imported on first use) and the error policy.

``ioflyby --help`` lists the verbs from :data:`VERBS` without importing any of them;
``ioflyby VERB ...`` imports only ``ioflyby.cli.<module>`` of that verb, so a command pays for the
stages it uses and nothing else.
"""

from __future__ import annotations

import logging
import sys
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, NamedTuple

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from ioflyby import __version__
from ioflyby.errors import IoflybyError

if TYPE_CHECKING:
    import click


class Verb(NamedTuple):
    """Where a verb lives (a module under ``ioflyby.cli``) and its one-line help for ``ioflyby --help``."""

    module: str
    help: str


VERBS: dict[str, Verb] = {
    # Adding a verb is one line here: name -> its module under ioflyby.cli (which registers the verb
    # on ``app`` with ``@app.command(name)`` or ``app.add_typer(..., name=name)``) and its help in at
    # most 60 characters. The module is imported only when the verb runs; tests/test_cli_imports.py
    # checks the table against the modules.
    "kernels": Verb("kernels_cmd", "Inspect and fetch SPICE kernels."),
    "info": Verb("ingest_cmd", "What a raw product holds."),
    "calibrate": Verb("ingest_cmd", "Dark, flat and bad-pixel calibration; derive flats."),
    "simulate": Verb("simulate_cmd", "The flyby digital twin: kernels, raw products, truth."),
    "pointing": Verb("pointing_cmd", "Pointing from the target's limb: a CK and a report."),
    "process": Verb("process_cmd", "Raw products to maps: colour GeoTIFF, PNG, backplanes."),
    "flyby": Verb("flyby_cmd", "Closest approaches and flyby comparisons from SPICE."),
    "demo": Verb("demo_cmd", "The whole chain on the twin, checked: report.html."),
    "volcano": Verb("volcano_cmd", "Io's volcanoes: catalogue and eruption time series."),
    "hotspots": Verb("hotspots_cmd", "Hot spots in raw products: temperature, area, power."),
    "change": Verb("change_cmd", "What changed on Io's surface between two maps."),
    "magnetosphere": Verb("magnetosphere_cmd", "Io's and Juno's place in Jupiter's magnetosphere."),
    "render": Verb("render_cmd", "Full-resolution colour views for people, no fringes."),
    "movie": Verb("movie_cmd", "Flyby movies: twin trajectory or product sequence."),
    "batch": Verb("batch_cmd", "Whole archives on dask: resumable, with a catalogue."),
    "serve": Verb("serve_cmd", "Read-only web viewer of an output folder in Io's CRS."),
}


class VerbGroup(TyperGroup):
    """The root group: lists :data:`VERBS` and imports a verb's module when it is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(dict.fromkeys([*VERBS, *self.commands]))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in VERBS:
            import_module(f"ioflyby.cli.{VERBS[cmd_name].module}")
            self.commands.update(typer.main.get_group(app).commands)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The verbs and their one-line help from the table, without importing them."""
        rows = [(name, VERBS[name].help if name in VERBS else self.commands[name].get_short_help_str())
                for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="ioflyby",
    cls=VerbGroup,
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
    """Import every verb's module now (for callers that drive ``app`` directly and want all verbs)."""
    for verb in VERBS.values():
        import_module(f"ioflyby.cli.{verb.module}")


class _StderrLines(logging.Handler):
    """Each message as one line on the current ``sys.stderr`` (a live progress bar, which
    redirects it, keeps drawing below)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr, flush=True)


@cache
def _show_notices() -> None:
    """The package's INFO messages (e.g. the one-line notice that the map kernels are being
    compiled, ``ioflyby._numba``) go to stderr; library users get them through ``logging``."""
    logger = logging.getLogger("ioflyby")
    logger.setLevel(logging.INFO)
    logger.addHandler(_StderrLines())


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; print an IoflybyError as one line on stderr and exit 2.

    Usage errors, ``--help`` and exit codes are handled by click (standalone mode).
    """
    _show_notices()
    try:
        app(args=argv)
    except IoflybyError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True, markup=True)
        sys.exit(2)
