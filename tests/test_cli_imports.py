"""The command imports what a verb uses and nothing else; numba kernels are cached and announced.

Each check runs in a fresh interpreter (``sys.modules`` of this one is full of everything the
other tests imported).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numba
import typer

import ioflyby.cli
from ioflyby import _numba
from ioflyby.cli.app import VERBS, _register_verbs, app

CLI = Path(ioflyby.cli.__file__).parent
HEAVY = ("matplotlib", "scipy.optimize", "ioflyby.demo")


def _run_cli(args: list[str]) -> tuple[str, set[str]]:
    """stdout of ``ioflyby ARGS`` in a fresh interpreter and the modules it had imported."""
    code = (
        "import json, sys\n"
        "from contextlib import redirect_stdout\n"
        "from io import StringIO\n"
        "from ioflyby.cli import main\n"
        "out = StringIO()\n"
        "with redirect_stdout(out):\n"
        "    try:\n"
        f"        main({args!r})\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(json.dumps({'out': out.getvalue(), 'modules': sorted(sys.modules)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(done.stdout)
    return result["out"], set(result["modules"])


def test_help_lists_every_verb_without_importing_any():
    out, modules = _run_cli(["--help"])
    for name, verb in VERBS.items():
        assert f"  {name} " in out and verb.help in " ".join(out.split()), name
    assert not {f"ioflyby.cli.{verb.module}" for verb in VERBS.values()} & modules
    assert not [m for m in modules if m.startswith(HEAVY)]


def test_process_help_imports_only_its_own_verb():
    out, modules = _run_cli(["process", "--help"])
    assert "--projection" in out
    assert "ioflyby.cli.process_cmd" in modules
    assert not [m for m in modules if m.startswith(HEAVY)]
    others = {f"ioflyby.cli.{verb.module}" for verb in VERBS.values()} - {"ioflyby.cli.process_cmd"}
    assert not others & modules


def test_the_table_names_every_verb_module_and_each_registers_its_verbs():
    modules = {path.stem for path in CLI.glob("*_cmd.py")}
    assert modules == {verb.module for verb in VERBS.values()}, "add the verb to ioflyby.cli.app.VERBS"
    _register_verbs()
    registered = typer.main.get_group(app).commands
    assert set(registered) == set(VERBS)
    assert all(len(verb.help) <= 60 for verb in VERBS.values())


def test_numba_cache_goes_to_the_user_cache_folder_when_the_sources_are_read_only(monkeypatch, tmp_path):
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    choose = _numba._cache_folder.__wrapped__
    assert choose(tmp_path / "writable") is None  # numba's own __pycache__ beside the sources
    assert choose(Path("/proc/ioflyby-read-only")) == tmp_path / "ioflyby" / "numba"
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "chosen"))
    assert choose(Path("/proc/ioflyby-read-only")) is None  # the user's NUMBA_CACHE_DIR wins


def test_compiling_is_announced_once_and_cached(tmp_path):
    """A kernel made with ioflyby's ``jit`` logs the notice when it compiles (empty cache) and
    loads silently from the cache in the next process."""
    script = tmp_path / "kernel.py"
    script.write_text(
        "import logging\n"
        "from ioflyby._numba import jit\n"
        "logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s')\n"
        "@jit()\n"
        "def twice(x):\n"
        "    return 2.0 * x\n"
        "print(twice(1.5))\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    for notice in (True, False):
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, check=True,
                              timeout=120)
        assert done.stdout.strip() == "3.0"
        assert (f"ioflyby.compile: {_numba.NOTICE}" in done.stderr) is notice, done.stderr
    assert any((tmp_path / "cache").rglob("*.nbi"))


def test_the_command_prints_library_notices_on_stderr():
    code = ("import logging\nfrom ioflyby.cli.app import _show_notices\n_show_notices()\n"
            "logging.getLogger('ioflyby.compile').info('compiling')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stderr == "compiling\n" and done.stdout == ""

