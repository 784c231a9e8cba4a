"""bpftrace as the engine: started with -f json on a program file, its lines
read by a thread and gathered into one Snapshot per interval; stopped with
SIGINT (bpftrace detaches, and the kernel drops the semaphores it raised).
Several programs (split.py: libbpf's limit on USDT probes per program) run
as several bpftrace processes side by side, their snapshots merged.

bpftrace runs in its own session, so a Ctrl-C at the terminal reaches only
the viewer, which then stops it in order; and it gets SIGINT from the kernel
if the viewer dies (PR_SET_PDEATHSIG), so it never outlives its viewer."""
import ctypes
import json
import os
import re
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from .errors import ViewError

PR_SET_PDEATHSIG = 1


class Snapshot:
    def __init__(self):
        self.dt = 0.0         # seconds this interval covered (bpftrace's clock)
        self.end = 0.0        # wall clock at its end
        self.counts = {}      # probe idx -> fires
        self.lat = {}         # pair idx -> {bucket: n}
        self.max = {}         # pair idx -> ns
        self.flat = {}        # (pair, file ptr, func ptr) -> {bucket: n}
        self.fmax = {}        # (pair, file ptr, func ptr) -> ns
        self.fline = {}       # (pair, file ptr, func ptr) -> first line


def _keys(k):
    return tuple(int(x) for x in k.split(","))


def _num(v):
    # bpftrace 0.25+ prints an integer a double cannot hold as a string.
    return int(v)


# bpftrace's own lines on stderr, not errors: 0.27's "Attached N probes"
# (0.17 prints "Attaching N probes..." only without -f json).
ATTACHED = re.compile(r"^Attach(ed|ing) \d+ probes?")
# A warning about the program's text: its source line and a marker follow.
SOURCE_WARNING = re.compile(r"^\S+:\d+:\d+(-\d+)?: WARNING")
# A probe bpftrace 0.27 could not attach and went on without
# (BPFTRACE_MISSING_PROBES=warn): libbpf refuses argument specs it cannot
# parse, such as glibc's 8@32+mp_(%rip).
SKIPPED = re.compile(r"^WARNING: Unable to attach probe: usdt:(.*):([^:]+):([^:]+)\. Skipping\.$")


def _die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0)


def check_environment():
    if shutil.which("bpftrace") is None:
        raise ViewError("bpftrace not found on PATH (Debian: apt-get install bpftrace)")
    if os.geteuid() != 0:
        raise ViewError("needs root: bpftrace attaches uprobes (run it with sudo)")


class Tracer:
    # bpftrace 0.25+'s answer to a probe it cannot attach (see start()).
    MISSING_PROBES = "warn"

    def __init__(self, pid, program, nprobes):
        self.pid, self.program, self.nprobes = pid, program, nprobes
        self.snapshots = queue.Queue()
        self.errors = []
        self.proc = None
        self.attached = None
        self.skipped = []     # (provider, name) bpftrace did not attach
        self._dir = None

    def start(self):
        self._dir = tempfile.mkdtemp(prefix="usdt-view.")
        path = os.path.join(self._dir, "view.bt")
        with open(path, "w") as f:
            f.write(self.program)
        env = dict(os.environ)
        # bpftrace refuses more than 512 probes unless told; each of ours is one.
        env["BPFTRACE_MAX_PROBES"] = str(max(512, self.nprobes + 16))
        # Room in every map (4,096 keys by default) for a busy interval: one
        # key per function and bucket, per thread and depth of open calls.
        env.setdefault("BPFTRACE_MAP_KEYS_MAX", "32768")
        env.setdefault("BPFTRACE_NO_USER_SYMBOLS", "1")
        # A probe bpftrace 0.25+ cannot attach (libbpf parses fewer argument
        # forms than bcc) is reported and left out, not the end of every
        # view of a process that maps such a library (Debian sid's glibc).
        # bpftrace 0.17 has no such variable and stops on it as before.
        env["BPFTRACE_MISSING_PROBES"] = self.MISSING_PROBES
        self.proc = subprocess.Popen(["bpftrace", "-f", "json", "-p", str(self.pid), path],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_err(self):
        skip = 0
        for line in self.proc.stderr:
            line = line.rstrip("\n")
            m = SKIPPED.match(line)
            if m:
                self.skipped.append((m.group(2), m.group(3)))
                continue
            if SOURCE_WARNING.match(line):
                skip = 2  # the source line and the marker under it
                continue
            if "WARNING" in line:
                continue
            if skip or "RLIMIT_MEMLOCK" in line or ATTACHED.match(line):
                skip = max(0, skip - 1)
                continue
            self.errors.append(line)

    def _messages(self):
        """bpftrace -f json's messages, as (type, data, the whole message);
        lines that are no JSON (none should be) are passed over."""
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            yield msg.get("type"), msg.get("data"), msg

    def _read_out(self):
        snap, last = Snapshot(), None
        for kind, data, _ in self._messages():
            if kind == "attached_probes":
                self.attached = data.get("probes")
            elif kind == "printf" and isinstance(data, str):
                tag, _, ns = data.strip().partition(" ")
                if tag in ("B", "T") and ns.isdigit():
                    ns = int(ns)
                    if tag == "T" and last is not None:
                        snap.dt = (ns - last) / 1e9
                        snap.end = time.time()
                        self.snapshots.put(snap)
                    if tag == "B" or last is not None:
                        # Ticks before BEGIN (probes still attaching) cover no known span.
                        last = ns
                    snap = Snapshot()
            elif kind == "map" and isinstance(data, dict):
                for name, m in data.items():
                    self._take(snap, name, m or {})
        self.snapshots.put(None)  # bpftrace is gone

    @staticmethod
    def _take(snap, name, m):
        if name == "@c":
            snap.counts = {int(k): _num(v) for k, v in m.items()}
        elif name == "@l":
            for k, v in m.items():
                j, b = _keys(k)
                snap.lat.setdefault(j, {})[b] = _num(v)
        elif name == "@m":
            snap.max = {int(k): _num(v) for k, v in m.items()}
        elif name == "@fl":
            for k, v in m.items():
                j, f, fn, b = _keys(k)
                snap.flat.setdefault((j, f, fn), {})[b] = _num(v)
        elif name == "@fm":
            snap.fmax = {_keys(k): _num(v) for k, v in m.items()}
        elif name == "@fn":
            snap.fline = {_keys(k): _num(v) for k, v in m.items()}

    def next(self, timeout):
        """The next Snapshot, None when bpftrace has exited, or raises
        queue.Empty after timeout seconds."""
        return self.snapshots.get(timeout=timeout)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def failure(self):
        """Why bpftrace stopped, as one line."""
        if not os.path.exists("/proc/%d" % self.pid):
            return "process %d exited" % self.pid
        errs = [e for e in self.errors if e.strip()]
        first = next((e for e in errs if "ERROR" in e), errs[0] if errs else None)
        rc = self.proc.poll() if self.proc else None
        return "bpftrace stopped (exit %s)%s" % (rc, ": " + first.strip() if first else "")

    def stop(self):
        stop_all([self])


def stop_all(tracers):
    """SIGINT to every bpftrace at once, then wait: each detaches its
    uprobes (semaphores drop back) before it exits. Escalates if one hangs."""
    procs = [t.proc for t in tracers if t.proc]
    # The kernel unregisters uprobes one by one, ~0.15 s each here, and
    # several bpftrace processes detaching at once share that: 300 probes
    # take most of a minute, and cutting that short would leave semaphores
    # raised.
    grace = 10 + 0.5 * sum(t.nprobes for t in tracers)
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        live = [p for p in procs if p.poll() is None]
        if not live:
            break
        for p in live:
            try:
                p.send_signal(sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        for p in live:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
    for t in tracers:
        if t._dir:
            shutil.rmtree(t._dir, ignore_errors=True)
            t._dir = None


class Tracers:
    """One bpftrace per program (split.py), seen as one Tracer: next()
    waits for a Snapshot of each and merges them. Their probe and pair
    indices are disjoint, so the merge is a union and every count is
    counted once. A program that got ahead (it attached sooner, or another
    one's tick came late) has its extra intervals folded into the same
    merged one, so no program's rows lag behind the others'."""

    def __init__(self, pid, programs):
        """programs: [(text, number of uprobes it attaches)]."""
        self.pid = pid
        self.tracers = [Tracer(pid, text, n) for text, n in programs]
        self.nprobes = sum(n for _, n in programs)
        self._held = [None] * len(self.tracers)
        self._ended = None

    def start(self):
        # All from this (the main) thread: PR_SET_PDEATHSIG fires when the
        # thread that started a child ends, not the process.
        for t in self.tracers:
            t.start()

    def next(self, timeout):
        """The next merged Snapshot, None once any bpftrace has exited, or
        raises queue.Empty after timeout seconds (what arrived is kept)."""
        if self._ended is not None:
            return None
        deadline = None if timeout is None else time.monotonic() + timeout
        for i, t in enumerate(self.tracers):
            if self._held[i] is None:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                snap = t.next(left)
                if snap is None:
                    self._ended = i
                    return None
                self._held[i] = snap
        held, self._held = self._held, [None] * len(self.tracers)
        for i, t in enumerate(self.tracers if len(held) > 1 else ()):
            while True:
                try:
                    snap = t.next(0)
                except queue.Empty:
                    break
                if snap is None:
                    # Its last interval ended; said at the next call.
                    self._ended = i
                    break
                held[i] = fold(held[i], snap)
        return merge(held)

    def running(self):
        return any(t.running() for t in self.tracers)

    def skipped(self):
        """(provider, name) of the probes bpftrace could not attach."""
        return sorted({k for t in self.tracers for k in t.skipped})

    def failure(self):
        """Why tracing stopped, as one line."""
        i = self._ended
        if i is None:
            i = next((k for k, t in enumerate(self.tracers) if not t.running()), 0)
        why = self.tracers[i].failure()
        if len(self.tracers) > 1 and why.startswith("bpftrace"):
            why = "bpftrace (program %d of %d) %s" % (i + 1, len(self.tracers), why[len("bpftrace "):])
        return why

    def stop(self):
        stop_all(self.tracers)


def fold(a, b):
    """Two successive Snapshots of one program as one."""
    out = Snapshot()
    out.dt, out.end = a.dt + b.dt, b.end
    for name in ("counts", "lat", "flat"):
        for s in (a, b):
            for k, v in getattr(s, name).items():
                mine = getattr(out, name)
                if isinstance(v, dict):
                    d = mine.setdefault(k, {})
                    for bk, n in v.items():
                        d[bk] = d.get(bk, 0) + n
                else:
                    mine[k] = mine.get(k, 0) + v
    for name in ("max", "fmax"):
        for s in (a, b):
            for k, v in getattr(s, name).items():
                getattr(out, name)[k] = max(v, getattr(out, name).get(k, v))
    out.fline.update(a.fline)
    out.fline.update(b.fline)
    return out


def merge(snaps):
    """One Snapshot of the same interval of several programs: their maps
    side by side; the span is the longest (each program keeps its own
    clock, started a moment apart)."""
    if len(snaps) == 1:
        return snaps[0]
    out = Snapshot()
    out.dt = max(s.dt for s in snaps)
    out.end = max(s.end for s in snaps)
    for s in snaps:
        for name in ("counts", "lat", "max", "flat", "fmax", "fline"):
            getattr(out, name).update(getattr(s, name))
    return out
