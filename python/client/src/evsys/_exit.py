"""A calm exit for processes that used a Temporal client.

Temporal's Python SDK runs its client on Rust threads that release Python objects on their own
time; one that does so while the interpreter finalizes aborts the process ("Fatal Python error:
PyGILState_Release", temporalio/sdk-python#300): 13 of 100 short scripts here, and a training
loop's exit status with them. Collecting the dropped clients and giving those threads a moment,
before finalization starts, took it to 0 of 400 (docs/clients.md).
"""

from __future__ import annotations

import atexit
import gc
import time

# Long enough for the Rust threads to release what the collection dropped; paid once, at exit.
_SETTLE_S = 0.05


def _settle() -> None:
    gc.collect()
    time.sleep(_SETTLE_S)


def settle_temporal_threads_at_exit() -> None:
    """Registers the settling step; called once, when the package is imported."""
    atexit.register(_settle)
