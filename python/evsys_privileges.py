"""Dropping a process's capabilities through prctl and capset, for the two places where a root
process on the host becomes a sandbox's user: the code checks' warm interpreter
(warm-python.py) and the harbor engine's command runner (evsys_harbor/sandbox_enter.py).

Each caller orders the steps itself (the ids before or after capset depend on whether any
capability is kept), but the calls are made here only. Standard library only, and everything is
loaded when this module is imported: sandbox_enter.py imports it before it enters a sandbox whose
files an earlier command may have replaced, and calls it after.
"""

import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)

PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
# Root gets no capabilities back on exec or setuid, and the code cannot unset that.
SECUREBITS_LOCKED_NOROOT = 0b11101111  # NOROOT, NO_SETUID_FIXUP, KEEP_CAPS_LOCKED, NO_CAP_AMBIENT_RAISE, each with its lock
LINUX_CAPABILITY_VERSION_3 = 0x20080522


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def check(result: int, what: str) -> None:
    """Raises OSError(errno, "what: reason") for a libc call that returned non-zero."""
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def last_capability() -> int:
    """The highest capability number this kernel knows; read it while /proc is still the host's."""
    with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
        return int(f.read())


def lock_securebits() -> None:
    """Root gets no capabilities back, and setresuid keeps them until capset; needs CAP_SETPCAP."""
    check(libc.prctl(PR_SET_SECUREBITS, SECUREBITS_LOCKED_NOROOT, 0, 0, 0), "securebits")


def drop_bounding_set(last_cap: int, keep: tuple[int, ...] = ()) -> None:
    """No capability but `keep` can be gained again, through exec of a file or otherwise; needs CAP_SETPCAP."""
    for cap in range(last_cap + 1):
        if cap not in keep:
            check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"drop capability {cap} from the bounding set")


def clear_ambient() -> None:
    check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")


def set_capabilities(keep: tuple[int, ...] = ()) -> None:
    """Exactly `keep`, effective and permitted; nothing inheritable."""
    mask = sum(1 << cap for cap in keep)
    low, high = mask & 0xFFFFFFFF, mask >> 32
    data = (CapData * 2)(CapData(low, low, 0), CapData(high, high, 0))
    check(libc.capset(ctypes.byref(CapHeader(LINUX_CAPABILITY_VERSION_3, 0)), data), "capset")
