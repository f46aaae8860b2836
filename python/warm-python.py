"""A warm Python for the sandboxed code checks (see warm-python.ts): started once per interpreter
and mode in a worker process, it forks, for each request, a child that joins a sample's
bubblewrap sandbox and runs the check there.

- mode ``pytest`` (the e2b verifier's plain ``pytest ...``): pytest is imported and run once on
  start-up; the child runs pytest.main. Starting pytest costs about 0.2 s of imports.
- mode ``program`` (the program verifier's ``python3 <file>``): nothing is imported beyond this
  script's own needs, so the interpreter is as a fresh one finds it; the child runs the working
  directory's file as ``python3 <file>`` would: as ``__main__``, with that sys.argv and
  sys.path[0], the same exit status, and the interpreter's ending (threads joined, atexit).
  Starting an interpreter costs 15-30 ms.

A fork of this process costs a few ms. The sandbox itself is still bubblewrap's, made fresh for
each sample by the host as for a cold run (its mounts, /proc, /dev, /tmp, no network, PID/IPC/UTS
namespaces, pids cgroup), if before the sample was known; only the interpreter and the files
come in from outside:

  zygote (host, root)  --fork-->  joiner: enters the sample's pids cgroup, takes the sandbox's
                                  stdout/stderr (pidfd_getfd of bubblewrap's), joins its mount,
                                  network, IPC, UTS and PID namespaces, writes the check's files
                       --fork-->  sample: in the sandbox's PID namespace, a session of its own
                                  (no controlling terminal, as bubblewrap's --new-session);
                                  becomes the sandbox's user (uid, gid, no supplementary groups)
                                  and drops every capability (bounding set included), no new
                                  privileges, address-space limit, the sandbox's environment;
                                  then the check

Protocol, JSON lines: stdin gets {"id", "target", "stdio", "cgroup_procs", "env", "memory_kb",
"workdir", "files", "uid", "gid"} and, for pytest, {"args", "argv0"}, for a program, {"program"}
(a file name in workdir); `files` maps names to base64 contents, which the joiner writes into
workdir, the sandbox having been made before the check was known; stdout says {"ready": true} once warm, then per request {"id", "exit"} (0-255,
or 128 + signal) or {"id", "error"} when the sample could not start. Results are single short
writes, so concurrent joiners' lines never interleave.
"""

# What the interpreter put in __main__ and sys.modules before this script's first line: a
# program gets the same, and imports the rest itself, as it would in a fresh interpreter.
INITIAL_MAIN = dict(globals())
import sys  # noqa: E402

INITIAL_MODULES = frozenset(sys.modules)

import atexit  # noqa: E402
import binascii  # noqa: E402
import ctypes  # noqa: E402
import gc  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import traceback  # noqa: E402

import evsys_privileges  # noqa: E402
from evsys_privileges import check, libc  # noqa: E402

SYS_PIDFD_GETFD = 438  # the same number on every architecture
NAMESPACES = [("net", 0x40000000), ("ipc", 0x08000000), ("uts", 0x04000000), ("pid", 0x20000000), ("mnt", 0x00020000)]
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
# CPython's exit status when flushing stdout fails at exit.
FLUSH_FAILED = 120


def become(uid, gid):
    """Becomes the sandbox's user with no capabilities and no way back, as setpriv makes the cold run's."""
    # The securebits and the bounding set need CAP_SETPCAP, and the ids CAP_SETUID and CAP_SETGID:
    # all before the capabilities go. NO_SETUID_FIXUP keeps them across setresuid until capset.
    evsys_privileges.lock_securebits()
    evsys_privileges.drop_bounding_set(evsys_privileges.last_capability())
    evsys_privileges.clear_ambient()
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    evsys_privileges.set_capabilities()
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    # Changing ids made the process undumpable, which the cold run's exec undoes: its own /proc
    # entries stay its user's, and its children can be traced by their parent, as there.
    check(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")
    # Trust but verify: the kernel's own account of what is left.
    status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
    for field in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        if int(status[field], 16) != 0:
            raise OSError(f"{field} is {status[field].strip()} after dropping every capability")
    if status["NoNewPrivs"].strip() != "1":
        raise OSError("no_new_privs did not stick")
    for field, want in (("Uid", uid), ("Gid", gid)):
        if status[field].split() != [str(want)] * 4:
            raise OSError(f"{field} is {status[field].strip()}, not {want}")
    if status["Groups"].strip() != "":
        raise OSError(f"supplementary groups {status['Groups'].strip()} remain")


def fresh_stdin():
    """stdin on fd 0 (now /dev/null) as the interpreter makes it; this process's own buffers the requests after this one."""
    raw = io.FileIO(0, "rb", closefd=False)
    raw.name = "<stdin>"
    stream = io.TextIOWrapper(io.BufferedReader(raw), encoding=sys.stdin.encoding, errors=sys.stdin.errors, line_buffering=sys.stdin.line_buffering)
    stream.mode = "r"
    return stream


def flush_io():
    """As the interpreter flushes before it prints an uncaught exception or ends: errors ignored."""
    for stream in (sys.stderr, sys.stdout):
        try:
            stream.flush()
        except BaseException:
            pass


def run_sample(req, out, err, ready):
    """The sample's process: never returns."""
    try:
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.dup2(os.open("/dev/null", os.O_RDONLY), 0)
        keep = {0, 1, 2, ready}
        for fd in map(int, os.listdir("/proc/self/fd")):
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        # No controlling terminal: a worker started from one would otherwise share it (/dev/tty).
        os.setsid()
        check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
        resource.setrlimit(resource.RLIMIT_AS, (req["memory_kb"] * 1024,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        become(req["uid"], req["gid"])
        os.environ.clear()
        os.environ.update(req["env"])
        sys.stdin = sys.__stdin__ = fresh_stdin()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.write(ready, b"1")
        os.close(ready)
    except BaseException:
        os.write(2, traceback.format_exc().encode())
        os._exit(1)
    if "program" in req:
        run_program(req["program"])
    run_pytest(req["argv0"], req["args"])


def run_pytest(argv0, args):
    """pytest.main as the pytest console script would run it; never returns."""
    code = 1
    # As the pytest console script would have them.
    sys.argv = [argv0, *args]
    sys.path[0] = os.path.dirname(argv0)
    try:
        import pytest

        code = int(pytest.main(args))
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(code)


def run_program(name):
    """Runs the working directory's file `name` as `python3 name` would, and ends as it would; never returns."""
    path = os.path.join(os.getcwd(), name)
    sys.argv = [name]
    sys.path[0] = os.path.dirname(os.path.realpath(path))
    main = type(sys)("__main__")
    main.__dict__.update(INITIAL_MAIN)
    main.__dict__.update(__doc__=None, __file__=path, __loader__=type(INITIAL_MAIN["__loader__"])("__main__", path))
    if "__annotations__" in INITIAL_MAIN:
        main.__annotations__ = {}
    # This script's own modules stay loaded for it, but the program imports them afresh.
    for name in sys.modules.keys() - INITIAL_MODULES:
        del sys.modules[name]
    sys.modules["__main__"] = main
    status, interrupted = 0, False
    try:
        try:
            with open(path, "rb") as f:
                code = compile(f.read(), path, "exec", dont_inherit=True)
            exec(code, main.__dict__)
        finally:
            flush_io()
    except SystemExit as exc:
        status = exit_status(exc.code)
    except BaseException as exc:
        # As the interpreter prints it: from the program's frames on (a syntax error has none).
        exc.__traceback__ = exc.__traceback__.tb_next
        sys.excepthook(type(exc), exc, exc.__traceback__)
        status, interrupted = 1, isinstance(exc, KeyboardInterrupt)
    # The interpreter's own ending: non-daemon threads, then atexit, then the flush of stdout.
    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            if stream is sys.stdout and status == 0:
                status = FLUSH_FAILED
    if interrupted:
        # Ended by an uncaught KeyboardInterrupt, the interpreter exits by SIGINT.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(status & 0xFF)


def exit_status(code):
    """SystemExit's code as the interpreter turns it into an exit status."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    try:
        sys.stderr.write(f"{code}\n")
    except BaseException:
        pass
    return 1


def join_and_run(req):
    """The joiner: reports the sample's exit, or why it could not start. Never returns."""
    reply = {"id": req["id"]}
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        if req["cgroup_procs"]:
            with open(req["cgroup_procs"], "w") as f:
                f.write(str(os.getpid()))
        pidfd = os.pidfd_open(req["stdio"])
        getfd = lambda n: ctypes.CDLL(None, use_errno=True).syscall(SYS_PIDFD_GETFD, pidfd, n, 0)
        out, err = getfd(1), getfd(2)
        if out < 0 or err < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd of the sandbox's stdout/stderr")
        fds = [(os.open(f"/proc/{req['target']}/ns/{name}", os.O_RDONLY), flag, name) for name, flag in NAMESPACES]
        for fd, flag, name in fds:
            check(libc.setns(fd, flag), f"setns {name}")
            os.close(fd)
        # Joining the mount namespace put the root and working directory at the sandbox's root.
        os.chdir(req["workdir"])
        write_files(req["files"])
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            run_sample(req, out, err, ready_w)
        os.close(ready_w)
        os.close(out)
        os.close(err)
        started = os.read(ready_r, 1) == b"1"
        _, status = os.waitpid(pid, 0)
        if not started:
            reply["error"] = f"the sample's process failed before the check started (wait status {status}); its stderr has why"
        elif os.WIFSIGNALED(status):
            reply["exit"] = 128 + os.WTERMSIG(status)
        else:
            reply["exit"] = os.WEXITSTATUS(status)
    except BaseException as exc:
        reply["error"] = f"cannot join the sandbox: {exc!r}"
    os.write(1, (json.dumps(reply) + "\n").encode())
    os._exit(0)


def write_files(files):
    """The working directory's files, as bubblewrap lays a cold run's: the sandbox's root owns them, anyone may change them."""
    for name, content in files.items():
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
        try:
            os.fchmod(fd, 0o666)
            data = memoryview(binascii.a2b_base64(content))
            while data:
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)


def warm_up_pytest():
    """One pytest run, so the modules it imports lazily are imported here once."""
    import tempfile

    # Unsandboxed, as the worker's user: a private folder, its own ini file (no search up the
    # folders for another) and no conftest.py, so nothing another user left in /tmp runs here.
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "test_warm.py"), "w") as f:
            f.write("def test_warm():\n    assert True\n")
        with open(os.path.join(folder, "pytest.ini"), "w") as f:
            f.write("[pytest]\n")
        saved = os.dup(1), os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            import pytest

            pytest.main(["-q", "-p", "no:cacheprovider", "--noconftest", "-c", os.path.join(folder, "pytest.ini"), os.path.join(folder, "test_warm.py")])
        finally:
            sys.stdout.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(devnull)


def main():
    mode = sys.argv[1]
    if mode not in ("pytest", "program"):
        raise SystemExit(f"unknown mode {mode!r}: pytest or program")
    check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
    if mode == "pytest":
        warm_up_pytest()
    # The children never reach the heap's objects through the collector: fewer pages copied on write.
    gc.collect()
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # joiners are reaped by the kernel
    os.write(1, b'{"ready": true}\n')
    for line in sys.stdin:
        req = json.loads(line)
        if os.fork() == 0:
            join_and_run(req)


if __name__ == "__main__":
    main()
