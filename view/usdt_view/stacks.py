"""usdt stacks / usdt flame: the Python+kernel stacks of a process at an
event, counted (or weighted by time) in the kernel by one bpftrace program.

The Python side is pystacks.py's: walk() sets $pyh, a hash of the current
thread's Python stack, in any probe's action; emit() prints that stack as
PYF/PYE lines, which we print once per new hash; Resolver turns a hash back
into frames. Here: which probe (the event), what is counted per
(kstack, $pyh) in the map @c (events; @t the time for the time-weighted
modes), and @n, every event the program saw, so that one the map could not
hold is said, never silently dropped. Our own lines carry MARK.

Frames for output, root first, as FlameGraph's folded format has them
(stackcollapse's conventions): Python frames `func (file:line)`, outermost
first, then kernel frames with `_[k]` appended; a stack the walk cut short
starts with a [truncated ...] frame, a thread without Python state is one
[no Python thread state] frame (the resolver's note, in brackets)."""
import os
import queue
import re
import select
import sys
import termios
import time
import tty

from . import discover
from .errors import ViewError
from .tracer import Tracer, stop_all

MARK = "USDTFLAME"
U64 = (1 << 64) - 1
LOST = "[Python stack not received]"
KSUFFIX = "_[k]"

# The modes by name, as the output describes them (read and offcpu: weighted by time).
MODES = {
    "cpu": "on-CPU samples (profile timer)",
    "read": "time blocked in read(2), per thread (sys_enter_read to sys_exit_read)",
    "offcpu": "time off CPU (sched_switch out of a thread of the process to its switch back in)",
}
PROBE_TYPES = ("tracepoint", "kprobe", "kretprobe", "uprobe", "uretprobe", "usdt", "profile",
               "software", "hardware", "rawtracepoint", "fentry", "fexit", "kfunc", "kretfunc",
               "interval")
TRACING = "/sys/kernel/tracing"


class Event:
    def __init__(self, mode, spec, label, weighted=False):
        self.mode, self.spec, self.label, self.weighted = mode, spec, label, weighted

    @property
    def unit(self):
        return "ns" if self.weighted else ("samples" if self.mode == "cpu" else "events")


def _tracepoint_dirs():
    for d in (TRACING + "/events", "/sys/kernel/debug/tracing/events"):
        if os.path.isdir(d):
            return d
    return None


def parse_event(text, pid, hz=99, usdt_bin="usdt"):
    """The Event a user named: None (on-CPU), cpu/oncpu, read, offcpu, a
    bpftrace probe spec, a tracepoint's bare name (sys_enter_read), or
    PROVIDER:NAME, a USDT probe of the process."""
    if text in (None, "", "cpu", "oncpu"):
        return Event("cpu", "profile:hz:%d" % hz, MODES["cpu"] + " at %d Hz" % hz)
    if text == "read":
        return Event("read", "tracepoint:syscalls:sys_enter_read", MODES["read"], True)
    if text == "offcpu":
        return Event("offcpu", "tracepoint:sched:sched_switch", MODES["offcpu"], True)
    if any(c in text for c in "{}/;\n\"'") and not text.startswith(("uprobe:", "uretprobe:", "usdt:")):
        raise ViewError("--event %s: one probe spec only (a filter or action is the tool's)" % text, 2)
    kind, sep, rest = text.partition(":")
    events = _tracepoint_dirs()
    if not sep:
        # A tracepoint by its bare name: sys_enter_read, sched_switch.
        if events is None:
            raise ViewError("--event %s: no tracefs to look the tracepoint up in "
                            "(mount -t tracefs tracefs /sys/kernel/tracing)" % text)
        found = sorted(c for c in os.listdir(events) if os.path.isdir(os.path.join(events, c, text)))
        if not found:
            raise ViewError("--event %s: no tracepoint of that name (and not read, offcpu or cpu; "
                            "a full probe spec is tracepoint:CATEGORY:NAME, kprobe:FUNC, "
                            "uprobe:PATH:SYMBOL, usdt:PATH:PROVIDER:NAME)" % text, 2)
        return Event("count", "tracepoint:%s:%s" % (found[0], text), "tracepoint:%s:%s" % (found[0], text))
    if kind in ("t", "tracepoint"):
        cat, _, name = rest.partition(":")
        if events is not None and name and "*" not in text and not os.path.isdir(os.path.join(events, cat, name)):
            raise ViewError("--event %s: no tracepoint %s:%s (see %s)" % (text, cat, name, events))
        return Event("count", "tracepoint:" + rest, "tracepoint:" + rest)
    if kind in ("k", "kr", "kprobe", "kretprobe") and rest and "*" not in rest and ":" not in rest:
        funcs = os.path.join(os.path.dirname(events or TRACING + "/events"), "available_filter_functions")
        if os.path.exists(funcs) and not _has_function(funcs, rest):
            raise ViewError("--event %s: no kernel function %s to attach a kprobe to (see %s)" % (text, rest, funcs))
    if kind in PROBE_TYPES or kind in ("k", "kr", "u", "ur", "U", "p", "s", "h", "i", "rt"):
        return Event("count", text, text)
    # PROVIDER:NAME: a USDT probe of the process, at its path in the process's root.
    prov, name = kind, rest
    if not prov or not name or ":" in name:
        raise ViewError("--event %s: not a probe (a probe type %s, read, offcpu, or PROVIDER:NAME "
                        "of a USDT probe)" % (text, "/".join(PROBE_TYPES[:6])), 2)
    recs = [r for r in discover.list_probes(usdt_bin, pid) if r["provider"] == prov and r["name"] == name]
    if not recs:
        raise ViewError("--event %s: process %d has no USDT probe %s:%s (usdt list %d lists them)"
                        % (text, pid, prov, name, pid))
    specs = sorted({discover.Probe(0, prov, name, r["path"], r.get("types", [])).spec(pid) for r in recs})
    return Event("count", ",".join(specs), "usdt %s:%s" % (prov, name))


def _has_function(path, name):
    """Whether the kernel lists name as traceable; True when it cannot be
    read here (bpftrace then says it, as its error)."""
    try:
        with open(path) as f:
            for line in f:
                if line.split(" ", 1)[0].strip() == name:
                    return True
    except OSError:
        return True
    return False


def build(pid, event, walk, emit, what="usdt stacks"):
    """The bpftrace program: walk and emit are pystacks' statements."""
    seen = "\tif (@pyseen[$pyh] == 0) {\n\t\t@pyseen[$pyh] = 1;\n%s\n\t}\n" % _indent(emit, 2)
    walk = _indent(walk, 1)
    out = ["// %s: %s in pid %d (generated; run with: bpftrace -f json -p %d FILE)" % (what, event.label, pid, pid),
           "// Each action: the walk sets $pyh, a hash of the thread's Python stack; the",
           "// stack's PYF/PYE lines are printed once per new hash (@pyseen). @c[kstack, $pyh]",
           "// counts events (@t: their time), @n all events. A probe of your own: add it to the",
           "// first action's probe list, or give it an action of its own with the same walk,",
           "// the @pyseen block, @n = count() and @c[kstack, $pyh] = count(); then run this",
           "// with usdt stacks|flame PID --program FILE. Keep BEGIN and END: their lines are read.",
           'BEGIN { printf("%s B %%lld\\n", nsecs); }' % MARK]
    helpers = ["@pyseen"]
    if event.mode == "read":
        out.append("tracepoint:syscalls:sys_enter_read /pid == %d/ {\n%s\n%s"
                   "\t@rs[tid] = nsecs;\n\t@rk[tid] = kstack;\n\t@rh[tid] = $pyh;\n}" % (pid, walk, seen))
        out.append("tracepoint:syscalls:sys_exit_read /pid == %d && @rs[tid]/ {\n"
                   "\t@n = count();\n"
                   "\t@c[@rk[tid], @rh[tid]] = count();\n"
                   "\t@t[@rk[tid], @rh[tid]] = sum(nsecs - @rs[tid]);\n"
                   "\tdelete(@rs[tid]);\n\tdelete(@rk[tid]);\n\tdelete(@rh[tid]);\n}" % pid)
        helpers += ["@rs", "@rk", "@rh"]
    elif event.mode == "offcpu":
        # At sched_switch the current task is the one switching out (prev).
        out.append("tracepoint:sched:sched_switch /pid == %d/ {\n%s\n%s"
                   "\t@os[tid] = nsecs;\n\t@ok[tid] = kstack;\n\t@oh[tid] = $pyh;\n}" % (pid, walk, seen))
        out.append("tracepoint:sched:sched_switch /@os[args->next_pid]/ {\n"
                   "\t$n = args->next_pid;\n"
                   "\t@n = count();\n"
                   "\t@c[@ok[$n], @oh[$n]] = count();\n"
                   "\t@t[@ok[$n], @oh[$n]] = sum(nsecs - @os[$n]);\n"
                   "\tdelete(@os[$n]);\n\tdelete(@ok[$n]);\n\tdelete(@oh[$n]);\n}")
        helpers += ["@os", "@ok", "@oh"]
    else:
        out.append("%s /pid == %d/ {\n%s\n%s\t@n = count();\n\t@c[kstack, $pyh] = count();\n}"
                   % (event.spec, pid, walk, seen))
    # The maps are printed after END, after our E line: @c, @t, @n only.
    out.append('END {\n\tprintf("%s E %%lld\\n", nsecs);\n%s\n}'
               % (MARK, "\n".join("\tclear(%s);" % h for h in helpers)))
    return "\n".join(out) + "\n"


def user_program(path):
    """A program of the user's (--program FILE), started from --print-program's:
    it keeps our BEGIN/END lines and the @c map (@t: time-weighted)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ViewError("%s: %s" % (path, e.strerror))
    if ('"%s B ' % MARK) not in text or ('"%s E ' % MARK) not in text or "@c[" not in text:
        raise ViewError("%s: not a program of --print-program's shape (it keeps the BEGIN and END "
                        "lines printing %s B/E and counts into @c[kstack, $pyh])" % (path, MARK))
    weighted = "@t[" in text
    return text, Event("program", None, "program %s" % path, weighted)


def _indent(text, n):
    return "\n".join(("\t" * n + line) if line.strip() else "" for line in text.strip("\n").splitlines())


def parse_kstack(text):
    """bpftrace's kstack text (one frame a line, innermost first; 0.17 and
    0.27 indent differently) as a list of frames."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def split_key(key):
    """A printed @c key: the kernel stack's text, a comma, the hash."""
    stack, sep, h = key.rpartition(",")
    if not sep:
        raise ValueError(key)
    return tuple(parse_kstack(stack)), int(h.strip()) & U64


class StackTracer(Tracer):
    """tracer.Tracer (its process handling: own session, SIGINT if we die,
    stop_all's orderly stop) reading this program's output: the resolver's
    lines, our markers, the maps printed at the end, lost events. The one
    event asked for must attach: bpftrace 0.25+ stops on a probe it cannot
    attach instead of running without it (and failing later on a map only
    that probe's action defined)."""

    MISSING_PROBES = "error"

    def __init__(self, pid, program, resolver):
        super().__init__(pid, program, 4)
        self.resolver = resolver
        self.began = self.ended = None  # bpftrace's nsecs at BEGIN and END
        self.maps = {}
        self.lost = 0
        self.done = queue.Queue()
        self.ready = queue.Queue()

    def _read_out(self):
        for kind, data, msg in self._messages():
            if kind == "printf" and isinstance(data, str):
                for text in data.splitlines():
                    parts = text.split()
                    if len(parts) == 3 and parts[0] == MARK and parts[2].lstrip("-").isdigit():
                        if parts[1] == "B":
                            self.began = int(parts[2])
                            self.ready.put(True)
                        elif parts[1] == "E":
                            self.ended = int(parts[2])
                    elif text.strip():
                        self.resolver.feed(text)
            elif kind == "lost_events":
                # 0.17: {"data": {"events": N}}; 0.27: {"count": N}.
                n = msg.get("count")
                if n is None:
                    n = data.get("events") if isinstance(data, dict) else data
                self.lost += int(n or 0)
            elif kind == "map" and isinstance(data, dict) and self.ended is not None:
                for name, m in data.items():
                    if name in ("@c", "@t", "@n") and name not in self.maps:
                        self.maps[name] = m
        self.ready.put(False)
        self.done.put(True)

    def lost_from_stderr(self):
        n = 0
        for e in self.errors:
            m = re.search(r"Lost (\d+) events", e)
            if m:
                n += int(m.group(1))
        return n


class Result:
    """What one run saw: per (kernel frames, hash) the events and, for the
    time-weighted modes, the nanoseconds."""

    def __init__(self, event, counts, times, total, seconds, lost, resolver, max_frames):
        self.event, self.counts, self.times = event, counts, times
        self.max_frames = max_frames
        self.total, self.seconds, self.lost, self.resolver = total, seconds, lost, resolver

    def weight(self, key):
        return self.times.get(key, 0) if self.event.weighted else self.counts.get(key, 0)

    def python_frames(self, pyh, lines=True):
        """Frames of a hash, root first, markers included: a list of
        (name, kind) with kind py or mark; lines=False: func (file) only."""
        if not self.resolver.known(pyh):
            return [(LOST, "mark")]
        st = self.resolver.stack(pyh)
        # A frame the resolver could not name ([frame line lost], a freed
        # code object) is a marker, not a function.
        frames = [(f.func, "mark") if f.func.startswith("[") else
                  ("%s (%s:%s)" % (f.func, f.file, "?" if f.line is None else f.line) if lines else
                   "%s (%s)" % (f.func, f.file), "py")
                  for f in reversed(st.frames)]
        if not frames:
            return [("[%s]" % (st.note or "no Python frames"), "mark")]
        if st.truncated:
            frames.insert(0, ("[truncated: the walk stops at %d frames]" % self.max_frames, "mark"))
        elif st.note:
            frames.insert(0, ("[%s]" % st.note, "mark"))
        return frames

    def missing(self):
        """Stacks counted whose lines (all, or some frames') never arrived."""
        out = 0
        for _, h in self.counts:
            if not self.resolver.known(h) or any(f.func.startswith("[") and "lost" in f.func
                                                 for f in self.resolver.stack(h).frames):
                out += 1
        return out


def run(pid, event, pystacks, layout, seconds, what, quiet=False, max_frames=None, program=None):
    """Traces until seconds pass, q, Ctrl-C or SIGTERM; returns a Result.
    bpftrace is stopped in order whatever happens. program: a user's own
    (--program), else the one built for event."""
    kw = {"max_frames": max_frames} if max_frames else {}
    if program is None:
        program = build(pid, event, pystacks.walk(layout, **kw), pystacks.emit(layout), what)
    resolver = pystacks.Resolver(pid, layout)
    t = StackTracer(pid, program, resolver)
    t.start()
    keys = _Keys() if sys.stdin.isatty() else None
    try:
        # Attached: our BEGIN line, or bpftrace gone.
        while True:
            try:
                ok = t.ready.get(timeout=0.2)
            except queue.Empty:
                if keys and keys.quit():
                    raise KeyboardInterrupt
                continue
            if not ok:
                raise ViewError(_why(t))
            break
        if not quiet:
            sys.stderr.write("%s: tracing %s in pid %d (%s)%s\n" % (
                what, event.label, pid, discover.comm_of(pid),
                " for %g s" % seconds if seconds else "; Ctrl-C%s to stop" % (" or q" if keys else "")))
        deadline = time.monotonic() + seconds if seconds else None
        try:
            while deadline is None or time.monotonic() < deadline:
                if not t.running():
                    # bpftrace -p ends with the process: what it counted
                    # until then is printed after END, and still shown.
                    try:
                        t.done.get(timeout=5)
                        t.done.put(True)
                    except queue.Empty:
                        pass
                    if t.ended is None or os.path.exists("/proc/%d" % pid):
                        raise ViewError(_why(t))
                    sys.stderr.write("%s: process %d exited; its stacks until then:\n" % (what, pid))
                    break
                if keys:
                    if keys.quit(0.2):
                        break
                else:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    finally:
        if keys:
            keys.close()
        stop_all([t])
    try:
        t.done.get(timeout=30)
    except queue.Empty:
        pass
    resolver.close()  # frames are resolved as their lines arrive
    if t.ended is None:
        raise ViewError(_why(t))
    counts, times = {}, {}
    for name, into in (("@c", counts), ("@t", times)):
        for k, v in (t.maps.get(name) or {}).items():
            key = split_key(k)
            into[key] = into.get(key, 0) + int(v)
    n = t.maps.get("@n")
    total = int(n) if n not in (None, {}) else 0
    span = (t.ended - t.began) / 1e9 if t.began is not None else 0.0
    lost = t.lost + t.lost_from_stderr()
    res = Result(event, counts, times, total, span, lost, resolver,
                 max_frames or getattr(pystacks, "MAX_FRAMES", 0))
    # Lines lost in bpftrace's output buffer: reported by bpftrace only once
    # it writes there again, which may be never (every stack already seen),
    # so the stacks whose lines never came are counted here too.
    missing = res.missing()
    if lost or missing:
        sys.stderr.write("%s: WARNING: %s: %d of %d stacks lack Python frames, shown as %s or "
                         "[frame line lost] (BPFTRACE_PERF_RB_PAGES=N, 64 by default, raises the "
                         "buffer)\n" % (what, "bpftrace lost %d events, its output buffer full" % lost
                                        if lost else "lines of bpftrace's output did not arrive",
                                        missing, len(counts), LOST))
    counted = sum(counts.values())
    if counted != total:
        sys.stderr.write("%s: WARNING: %d of %d events not counted (bpftrace's map was full; "
                         "raise BPFTRACE_MAP_KEYS_MAX)\n" % (what, total - counted, total))
    return res


def _why(t):
    """Why bpftrace stopped, once its last words on stderr are read."""
    try:
        t.proc.wait(5)
    except Exception:
        pass
    time.sleep(0.2)
    return t.failure()


class _Keys:
    """q on the terminal stops, as in usdt top (cbreak: the rest of the
    keyboard, Ctrl-C included, as usual)."""

    def __init__(self):
        self.fd = sys.stdin.fileno()
        self.saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)

    def quit(self, timeout=0.0):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if r:
            ch = os.read(self.fd, 64)
            return b"q" in ch or b"Q" in ch
        return False

    def close(self):
        termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)


def folded(res, offsets=False, lines=True):
    """{tuple of (name, kind), root first: weight}, merged by names (by
    function and file alone with lines=False)."""
    out = {}
    for key in set(res.counts) | set(res.times):
        w = res.weight(key)
        if not w:
            continue
        kframes, h = key
        frames = res.python_frames(h, lines)
        for f in reversed(kframes):
            frames.append((f if offsets else _nooff(f), "k"))
        t = tuple(frames)
        out[t] = out.get(t, 0) + w
    return out


def _nooff(frame):
    return re.sub(r"\+(0x[0-9a-f]+|\d+)$", "", frame)


def _clean(name):
    return name.replace(";", ",").replace("\n", " ")


def folded_lines(stacks):
    """FlameGraph's folded format, heaviest first."""
    lines = []
    for frames, w in sorted(stacks.items(), key=lambda kv: (-kv[1], kv[0])):
        names = [_clean(n) + (KSUFFIX if kind == "k" else "") for n, kind in frames]
        lines.append("%s %d" % (";".join(names), w))
    return "\n".join(lines) + ("\n" if lines else "")


def parse_folded(text):
    """Folded lines back into {frames: weight} (kind from the _[k] suffix
    and the [marker] form), for the renderers and the tests."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        stack, _, n = line.rpartition(" ")
        frames = []
        for name in stack.split(";"):
            if name.endswith(KSUFFIX):
                frames.append((name[:-len(KSUFFIX)], "k"))
            elif name.startswith("[") and name.endswith("]"):
                frames.append((name, "mark"))
            else:
                frames.append((name, "py"))
        t = tuple(frames)
        out[t] = out.get(t, 0) + int(n)
    return out


def fmt_weight(w, weighted):
    if not weighted:
        return str(w)
    for unit, d in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if w >= d:
            return "%.3g %s" % (w / d, unit)
    return "%d ns" % w


def report(res, pid, comm, top=None):
    """usdt stacks' text: distinct stacks, heaviest first; Python frames
    innermost first, then the kernel's apart."""
    ev = res.event
    keys = [k for k in set(res.counts) | set(res.times) if res.weight(k)]
    keys.sort(key=lambda k: (-res.weight(k), -res.counts.get(k, 0)))
    total_w = sum(res.weight(k) for k in keys) or 1
    head = "%s in pid %d (%s), %.1f s: %d %s, %d distinct stacks" % (
        ev.label, pid, comm, res.seconds, res.total, "reads" if ev.mode == "read" else
        "switches" if ev.mode == "offcpu" else ev.unit, len(keys))
    if ev.weighted:
        head += ", %s in all" % fmt_weight(total_w, True)
    out = [head, ""]
    for k in keys[:top] if top else keys:
        w = res.weight(k)
        n = res.counts.get(k, 0)
        line = "%s (%.1f %%)" % (fmt_weight(w, ev.weighted), 100.0 * w / total_w)
        if ev.weighted:
            line += ", %d event%s" % (n, "" if n == 1 else "s")
        out.append(line)
        for name, _ in reversed(res.python_frames(k[1])):
            out.append("    " + name)
        if k[0]:
            out.append("    -- kernel --")
            out.extend("    " + f for f in k[0])
        out.append("")
    if top and len(keys) > top:
        out.append("(%d more stacks; --top 0 for all)" % (len(keys) - top))
    return "\n".join(out).rstrip("\n") + "\n"
