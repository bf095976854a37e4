"""Garbage kernels and metakernels against every verb that loads kernels (kernels check,
flyby, flyby compare, pointing, process, hotspots, simulate's official FK/IK folder): random bytes, a
truncated SPK, text that is no kernel (``/etc/passwd``, also listed in a metakernel), FIFOs,
/dev/zero and folders as kernels or metakernel members, an oversized text kernel, and the same
inside a comma list (which every verb accepts). Each is refused with exit 2 and one line."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from hostile.conftest import Sandbox, assert_refused, fifo, symlink
from ioflyby.simulate import textkernels as tk
from ioflyby.spice.kernelset import MAX_TEXT_KERNEL_BYTES
from ioflyby.spice.writers import SpkSegment, write_spk

KERNEL_VERBS = ("kernels-check", "flyby", "flyby-compare", "pointing", "process", "hotspots")


def kernel_args(verb: str, kernels: str, out: Path, product: Path) -> list:
    """The command line of ``verb`` loading ``kernels`` (one path or a comma list)."""
    window = ["--start", "2023-12-30T08:00", "--stop", "2023-12-30T09:00"]
    return {
        "kernels-check": ["kernels", "check", kernels],
        "flyby": ["flyby", "--observer", "JUNO", "--target", "IO", *window, "--kernels", kernels],
        "flyby-compare": ["flyby", "compare", "--case", f"a={kernels}", "--out", out],
        "pointing": ["pointing", product, "--kernels", kernels, "--out", out],
        "process": ["process", product, "--kernels", kernels, "--out", out, "--width", "64"],
        "hotspots": ["hotspots", product, "--kernels", kernels, "--out", out],
    }[verb]


def _metakernel(folder: Path, members: list[str]) -> Path:
    """A metakernel listing ``members``, each split into '+'-continued pieces (SPICE reads only
    132 characters of a line)."""
    path = folder / "bad.tm"
    pieces = [[m[i:i + 60] for i in range(0, len(m), 60)] for m in members]
    listed = "\n".join("\n".join(f"    '{p}+'" for p in parts[:-1]) + f"\n    '{parts[-1]}'" for parts in pieces)
    path.write_text(f"KPL/MK\n\\begindata\nKERNELS_TO_LOAD = (\n{listed}\n)\n\\begintext\n")
    return path


def _spk(folder: Path) -> Path:
    epochs = np.linspace(0.0, 3600.0, 50)
    states = np.tile([1.0e5, 0.0, 0.0, 0.0, 1.0, 0.0], (50, 1))
    return write_spk(folder / "good.bsp", [SpkSegment(-61, 501, epochs, states)])


def _truncated_spk(folder: Path) -> Path:
    path = _spk(folder)
    path.write_bytes(path.read_bytes()[:3072])
    return path


def _huge_text_kernel(folder: Path) -> Path:
    path = folder / "huge.tf"
    with path.open("wb") as handle:
        handle.write(b"KPL/FK\n\\begindata\n")
        handle.truncate(MAX_TEXT_KERNEL_BYTES + 1)  # sparse: no disk used
    return path


def _with_member(make: Callable[[Path], Path]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        return _metakernel(folder, [str(tk.write_lsk(folder / "naif.tls")), str(make(folder / "member.bsp"))])
    return build


def _write(name: str, content: bytes) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        (folder / name).write_bytes(content)
        return folder / name
    return build


def _comma_list(folder: Path) -> Path:
    garbage = _write("garbage.bsp", os.urandom(4096))(folder)
    return Path(f"{tk.write_lsk(folder / 'naif.tls')},{garbage}")


# variant -> (builder(folder) -> the --kernels value, what the error line must say)
CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "garbage_bytes": (_write("garbage.bsp", os.urandom(4096)), "not a SPICE kernel"),
    "truncated_spk": (_truncated_spk, "truncated|corrupt|cannot load"),
    "text_without_data": (_write("notes.tls", b"this is not a kernel\n" * 10), "not a SPICE kernel"),
    "empty_file": (_write("empty.bsp", b""), "cannot read kernel|not a SPICE kernel"),
    "broken_data_block": (_write("broken.tpc", b"\\begindata\nBODY501_RADII = ( 1.2.3 )\n"), "cannot load kernel"),
    "etc_passwd": (lambda folder: Path("/etc/passwd"), "not a SPICE kernel"),
    "huge_text_kernel": (_huge_text_kernel, "too large"),
    "kernel_fifo": (lambda folder: fifo(folder / "k.bsp"), "FIFO"),
    "kernel_dev_zero": (lambda folder: symlink(folder / "k.bsp", "/dev/zero"), "character device"),
    "kernel_is_folder": (lambda folder: (folder / "k.bsp").mkdir() or folder / "k.bsp", "folder"),
    "mk_lists_etc_passwd": (lambda folder: _metakernel(folder, ["/etc/passwd"]), "not a SPICE kernel"),
    "mk_lists_missing": (lambda folder: _metakernel(folder, [str(folder / "gone.bsp")]), "not found"),
    "mk_lists_fifo": (_with_member(fifo), "FIFO"),
    "mk_lists_dev_zero": (_with_member(lambda path: symlink(path, "/dev/zero")), "character device"),
    "mk_lists_garbage": (_with_member(lambda path: _write(path.name, os.urandom(2048))(path.parent)),
                         "not a SPICE kernel"),
    "comma_list_with_garbage": (_comma_list, "not a SPICE kernel"),
}


@pytest.fixture(scope="module")
def bad_kernels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("bad-kernels")
    values = {}
    for name, (build, _) in CASES.items():
        folder = root / name
        folder.mkdir()
        values[name] = str(build(folder))
    return root, values


PARAMS = [pytest.param(verb, name, id=f"garbage_kernel:{verb}:{name}") for name in CASES for verb in KERNEL_VERBS]


@pytest.mark.parametrize(("verb", "name"), PARAMS)
def test_garbage_kernel_is_refused(verb, name, bad_kernels, good_product, sandbox: Sandbox, cli):
    root, values = bad_kernels
    sandbox.inputs = (root, good_product)
    before = sandbox.snapshot()
    run = cli(kernel_args(verb, values[name], sandbox.out, good_product))
    assert_refused(run, sandbox, before, CASES[name][1])


@pytest.mark.parametrize("variant", ["fk_etc_passwd", "ik_garbage"])
def test_simulate_refuses_garbage_official_kernels(variant, tmp_path, sandbox: Sandbox, cli):
    official = tmp_path / "official"
    (official / "fk").mkdir(parents=True)
    (official / "ik").mkdir()
    fk, ik = official / "fk" / "juno_v12.tf", official / "ik" / "juno_junocam_v03.ti"
    fk.write_bytes(Path("/etc/passwd").read_bytes() if variant == "fk_etc_passwd" else tk.write_fk(tmp_path / "fk.tf")
                   .read_bytes())
    ik.write_bytes(os.urandom(2048) if variant == "ik_garbage" else tk.write_ik(tmp_path / "ik.ti").read_bytes())
    before = sandbox.snapshot()
    run = cli(["simulate", "--scenario", "pj57", "--kernels", official, "--out", sandbox.out])
    assert_refused(run, sandbox, before, "not a SPICE kernel")


def test_comma_lists_work_in_every_kernel_verb(twin, sandbox: Sandbox, cli):
    """The twin's kernels given as one comma list load in kernels check, flyby and process."""
    kernels = sandbox.root / "twin_kernels"
    files = [twin.metakernel.parent / name for key, name in twin.truth["kernels"].items()
             if key not in ("metakernel", "truth_metakernel", "fk_ik_source")]
    listed = ",".join(str(f) for f in files if "truth" not in f.name)
    assert len(listed.split(",")) == 8
    assert cli(["kernels", "check", listed]).code == 0
    ca = twin.truth["achieved_ca"]["time_utc"][:19]
    assert cli(["flyby", "--observer", "JUNO", "--target", "IO", "--start", ca[:11] + "08:00",
                "--stop", ca[:11] + "09:00", "--kernels", listed]).code == 0
    truth_kernels = ",".join(str(f) for f in files if f.name != "twin_juno_attitude.bc")
    run = cli(["process", twin.products[0], "--kernels", truth_kernels, "--out", kernels, "--width", "64"])
    assert run.code == 0, run.stderr
