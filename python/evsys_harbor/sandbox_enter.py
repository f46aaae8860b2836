"""Runs one command inside a running sandbox (see sandbox.py): ``python -I -S sandbox_enter.py SPEC``.

It joins the namespaces and the root of the sandbox's first process, becomes the command's user
with a container's capabilities, and runs the command; its exit code is the command's.

Why a Python script of its own and not ``nsenter`` + ``setpriv``: the host process that enters
holds every capability until it drops them, and the sandbox's root file system is writable by
the commands it runs. Any binary or shared library executed or loaded *from the sandbox* before
the drop (``setpriv``, ``libc``, an NSS module to look a user up) could have been replaced by an
earlier command and would run with the host's full root. This script is loaded from the host
before it enters, imports everything first, reads /etc/passwd as plain text, and executes
nothing from the sandbox until the drop is done.

It must stay standard-library only (evsys_privileges, beside its package, is too), import
nothing after entering (an import would read code from the sandbox's file system) and stay
single-threaded (``setns`` into a mount namespace refuses multi-threaded callers), and is
started with ``-I -S`` so no site-packages or environment variable of the worker can change what
runs with those privileges.

SPEC is the path of a JSON file (deleted once read)::

    {"pid": 1234, "argv": ["/bin/bash", "-c", "ls"], "env": {"PATH": "..."},
     "cwd": "/app", "user": "agent" | 1000 | "1000:1000" | null,
     "cgroups": ["/sys/fs/cgroup/memory/.../cgroup.procs", ...], "raw_sockets": true}

``cgroups``: the command joins them before it runs (this helper itself stays outside, so a
memory limit's OOM killer never picks it). ``raw_sockets``: false withholds ``CAP_NET_RAW``
from root too (a sandbox with user-mode networking, where packet sockets could go around its
egress rules).

Exit codes of its own: 126 when the user or the working directory cannot be used, 127 when the
command cannot be executed, 128+N when the command was killed by signal N.
"""

import json
import os
import stat
import sys
from typing import NoReturn

# python/, beside this package, holds the capability code the e2b verifier's warm interpreter
# shares; -I leaves this script's own folders off sys.path. Appended, so nothing there can stand
# in for the standard library. Imported here, on the host, before anything enters the sandbox.
sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import evsys_privileges  # noqa: E402

# A container's default capabilities (Docker's list) minus CAP_MKNOD: without a device cgroup,
# a device node made inside could open the host's disks. Numbers from linux/capability.h.
ROOT_CAPABILITIES = (
    0,  # CHOWN
    1,  # DAC_OVERRIDE
    3,  # FOWNER
    4,  # FSETID
    5,  # KILL
    6,  # SETGID
    7,  # SETUID
    8,  # SETPCAP
    10,  # NET_BIND_SERVICE
    13,  # NET_RAW (unless raw_sockets is false)
    18,  # SYS_CHROOT
    29,  # AUDIT_WRITE
    31,  # SETFCAP
)
CAP_NET_RAW = 13
NAMESPACES = ("ipc", "uts", "net", "pid", "mnt")  # mnt last: it changes this process's root


def fail(code: int, message: str) -> NoReturn:
    sys.stderr.write(f"evsys sandbox: {message}\n")
    sys.stderr.flush()
    os._exit(code)


def read_table(path: str) -> list[list[str]]:
    """The colon-separated records of /etc/passwd or /etc/group, read as data only."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return []
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return []
        text = f.read(4 * 1024 * 1024).decode("utf-8", "replace")
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(user: str | int | None) -> tuple[int, int, list[int], str]:
    """(uid, gid, supplementary groups, home) from the sandbox's own passwd and group files."""
    spec = "root" if user is None else str(user)
    name, _, group = spec.partition(":")
    passwd = read_table("/etc/passwd")
    entry = next((e for e in passwd if len(e) >= 7 and (e[0] == name or (name.isdigit() and e[2] == name))), None)
    if entry is None and not name.isdigit():
        fail(126, f"unable to find user {name}: no matching entries in /etc/passwd")
    uid = int(name) if entry is None else int(entry[2])
    gid = uid if entry is None else int(entry[3])
    home = "/" if entry is None else entry[5]
    groups_table = read_table("/etc/group")
    if group:
        found = next((g for g in groups_table if len(g) >= 3 and (g[0] == group or g[2] == group)), None)
        if found is None and not group.isdigit():
            fail(126, f"unable to find group {group}: no matching entries in /etc/group")
        gid = int(group) if found is None else int(found[2])
    login = entry[0] if entry is not None else None
    extra = [int(g[2]) for g in groups_table if len(g) >= 4 and login is not None and login in g[3].split(",")]
    return uid, gid, sorted({gid, *extra}), home


def drop_privileges(last_cap: int, keep: tuple[int, ...], uid: int, gid: int, groups: list[int]) -> None:
    # The capabilities first, while CAP_SETPCAP is still there; keep holds CAP_SETUID and CAP_SETGID for the ids.
    try:
        evsys_privileges.drop_bounding_set(last_cap, keep)
        evsys_privileges.clear_ambient()
        evsys_privileges.set_capabilities(keep)
    except OSError as e:
        fail(126, f"cannot drop privileges: {e.strerror}")
    # A non-root uid loses what is left on setresuid (no SECBIT_KEEP_CAPS); root keeps the list.
    os.setgroups(groups)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def main() -> None:
    spec_path = sys.argv[1]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    os.unlink(spec_path)
    pid = int(spec["pid"])
    # Every handle is taken while this process still sees the host: after the mount namespace
    # switch, /proc is the sandbox's.
    ns_fds = [os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY) for ns in NAMESPACES]
    try:
        cgroup_fds = [os.open(path, os.O_WRONLY) for path in spec.get("cgroups", [])]
    except OSError as e:
        fail(126, f"cannot join the sandbox's cgroup {e.filename}: {e.strerror}")
    keep = ROOT_CAPABILITIES if spec.get("raw_sockets", True) else tuple(c for c in ROOT_CAPABILITIES if c != CAP_NET_RAW)
    root_fd = os.open(f"/proc/{pid}/root", os.O_RDONLY | os.O_DIRECTORY)
    last_cap = evsys_privileges.last_capability()
    for fd in ns_fds:
        os.setns(fd, 0)
        os.close(fd)
    os.fchdir(root_fd)
    os.chroot(".")
    os.close(root_fd)
    # The PID namespace applies to children only: the command runs in a child.
    child = os.fork()
    if child == 0:
        # "0" is the writer itself, whatever its PID is called in the sandbox's PID namespace.
        for fd in cgroup_fds:
            try:
                os.write(fd, b"0")
            except OSError as e:
                fail(126, f"cannot join the sandbox's cgroup: {e.strerror}")
        uid, gid, groups, home = resolve_user(spec.get("user"))
        drop_privileges(last_cap, keep, uid, gid, groups)
        env = {str(k): str(v) for k, v in spec["env"].items()}
        env.setdefault("HOME", home)
        try:
            os.chdir(spec["cwd"])
        except OSError as e:
            fail(126, f"cannot change to the working directory {spec['cwd']}: {e.strerror}")
        argv = [str(a) for a in spec["argv"]]
        try:
            os.execve(argv[0], argv, env)
        except OSError as e:
            fail(127, f"cannot execute {argv[0]}: {e.strerror}")
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    main()
