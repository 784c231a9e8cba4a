"""bpftrace as the engine: started with -f json on a program file, its lines
read by a thread and gathered into one Snapshot per interval; stopped with
SIGINT (bpftrace detaches, and the kernel drops the semaphores it raised).

bpftrace runs in its own session, so a Ctrl-C at the terminal reaches only
the viewer, which then stops it in order; and it gets SIGINT from the kernel
if the viewer dies (PR_SET_PDEATHSIG), so it never outlives its viewer."""
import ctypes
import json
import os
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


def _die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0)


def check_environment():
    if shutil.which("bpftrace") is None:
        raise ViewError("bpftrace not found on PATH (Debian: apt-get install bpftrace)")
    if os.geteuid() != 0:
        raise ViewError("needs root: bpftrace attaches uprobes (run it with sudo)")


class Tracer:
    def __init__(self, pid, program, nprobes):
        self.pid, self.program, self.nprobes = pid, program, nprobes
        self.snapshots = queue.Queue()
        self.errors = []
        self.proc = None
        self.attached = None
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
            if "WARNING" in line:
                skip = 2  # the source line and the marker under it
                continue
            if skip or "RLIMIT_MEMLOCK" in line:
                skip = max(0, skip - 1)
                continue
            self.errors.append(line)

    def _read_out(self):
        snap, last = Snapshot(), None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            kind, data = msg.get("type"), msg.get("data")
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
            snap.counts = {int(k): v for k, v in m.items()}
        elif name == "@l":
            for k, v in m.items():
                j, b = _keys(k)
                snap.lat.setdefault(j, {})[b] = v
        elif name == "@m":
            snap.max = {int(k): v for k, v in m.items()}
        elif name == "@fl":
            for k, v in m.items():
                j, f, fn, b = _keys(k)
                snap.flat.setdefault((j, f, fn), {})[b] = v
        elif name == "@fm":
            snap.fmax = {_keys(k): v for k, v in m.items()}
        elif name == "@fn":
            snap.fline = {_keys(k): v for k, v in m.items()}

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
        """SIGINT and wait: bpftrace detaches its uprobes (semaphores drop
        back) before it exits. Escalates if it hangs."""
        p = self.proc
        if p and p.poll() is None:
            # The kernel unregisters uprobes one by one, ~0.15 s each here:
            # 300 probes take most of a minute, and cutting that short
            # would leave semaphores raised.
            grace = 10 + 0.5 * self.nprobes
            for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                try:
                    p.send_signal(sig)
                except ProcessLookupError:
                    break
                try:
                    p.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
