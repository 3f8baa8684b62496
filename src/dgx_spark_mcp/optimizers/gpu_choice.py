"""Whether a job runs on the RAPIDS Accelerator: the rules every sizing tool shares.

``gpu='off'`` never, ``'on'`` always (an error when the target has no usable GPU: a silent
CPU fallback is the defect this product must not repeat), ``'auto'`` when the target has GPUs
and the workload is one the RAPIDS SQL plugin speeds up.  A caller may refuse further (the
estimator also drops jobs whose predicted speedup is 'Not Applicable').
"""

from __future__ import annotations

from ..errors import BadInputError
from .models import GpuChoice, Workload
from .target import Target

__all__ = ["gpu_wanted"]


def gpu_wanted(choice: GpuChoice, target: Target, workload: Workload, notes: list[str]) -> bool:
    """The decision, with a note appended whenever GPUs exist but are not used (or do not exist)."""
    if choice is GpuChoice.OFF:
        return False
    if target.gpus is None:
        if choice is GpuChoice.ON:
            raise BadInputError(
                f"gpu='on' but {target.label} has no usable NVIDIA GPU; use gpu='auto' or 'off', "
                "or give a profile or spec with GPUs (list_hardware_profiles)"
            )
        notes.append(f"{target.label} has no usable NVIDIA GPU: CPU only")
        return False
    if choice is GpuChoice.AUTO and workload in (Workload.STREAMING, Workload.GRAPH):
        notes.append(
            f"GPUs present but not used: the RAPIDS Accelerator speeds up SQL/DataFrame work, and {workload} "
            "jobs spend their time in state stores or GraphX RDD code it does not run; pass gpu='on' to force it"
        )
        return False
    return True
