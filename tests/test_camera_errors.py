"""Camera errors when kernels are missing (own module: the kernel pool is process-global)."""

import pytest

from ioflyby.camera import JunoCam
from ioflyby.errors import KernelError
from ioflyby.spice import Kernels


def test_missing_ik_is_a_clear_error(kernel_dir):
    with Kernels([kernel_dir / "fk/juno_v12.tf"]):
        with pytest.raises(KernelError, match="INS-61501_FOCAL_LENGTH"):
            JunoCam.from_kernel_pool(["BLUE"])


def test_missing_fk_names_the_frames_kernel():
    with pytest.raises(KernelError, match="juno_v12.tf"):
        JunoCam.from_kernel_pool(["RED"])
