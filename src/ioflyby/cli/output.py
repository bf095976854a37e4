"""Output helpers shared by verbs: JSON for machines, rich tables for people, progress bars."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ioflyby.errors import IoflybyError

console = Console()


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _json_safe(value.item())
    if hasattr(value, "__fspath__"):
        return str(value)
    return value


def emit(result: dict, as_json: bool, human: Callable[[dict], None]) -> None:
    """Print ``result`` as JSON (``--json``) or through ``human`` (tables for a person)."""
    if as_json:
        print(json.dumps(_json_safe(result), indent=2))
    else:
        human(result)


def progress(disable: bool = False) -> Progress:
    """A rich progress bar on stderr, ``disable`` for --json runs so stdout stays pure JSON. Shown
    only when stderr is a terminal, and transient (erased when its block ends), so that a failed
    command leaves its one error line alone on stderr."""
    console = Console(stderr=True)
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=disable or not console.is_terminal,
        transient=True,
    )


@contextmanager
def flag_names(flags: Mapping[str, str]) -> Iterator[None]:
    """Let library errors raised inside the block name this verb's flags: each key of ``flags``
    (a library parameter, e.g. ``resolution_km``) found as a whole word in the message becomes
    its value (``--resolution-km``)."""
    try:
        yield
    except IoflybyError as exc:
        text = str(exc)
        for name, flag in flags.items():
            text = re.sub(rf"(?<![\w-]){re.escape(name)}(?!\w)", flag, text)
        exc.args = (text,)
        raise
