"""Python stacks at any bpftrace event: BPF walks the interpreter's frames.

The usdt extension knows its interpreter's memory layout exactly (built
against CPython's internal headers, python-ext/src/stacks_layout.c) and
publishes it through the runtime provider's probe python:stack__layout only
while a tracer has it enabled. Here:

  discover(pid)  -> Layout     read that layout once (one short bpftrace run)
  walk(layout)   -> str        bpftrace statements setting $pyh, a hash of the
                               current thread's Python stack (any probe type)
  emit(layout)   -> str        statements, after walk, printing that stack as
                               PYF/PYE lines
  Resolver(pid, layout)        turns PYF/PYE lines into names, files, lines,
                               reading code objects from /proc/PID/mem at once

Lines printed by emit (fields separated by one space, numbers hex where said):
  PYF <pyh hex> <index> <code address hex> <instr> <firstlineno>
      one per frame, index 0 = innermost. instr: 3.8/3.9 f_lasti (bytes),
      3.10 f_lasti (code units), 3.11+ the instruction pointer minus the code
      object's address (bytes).
  PYE <pyh hex> <depth> <flags>
      closes a stack: depth frames were printed; flags: FLAG_TRUNCATED (more
      frames than max_frames), FLAG_INVALID (a frame whose code object was
      not a code object: the walk stopped there), FLAG_NO_THREAD (the thread
      has no Python thread state).

$pyh values: PYH_NO_THREAD (no Python thread state for this thread: a
thread Python never ran on, or a process without the layout's interpreter),
PYH_NO_FRAMES (a thread state with no frame: idle, or between calls), any
other value (>= 16) a stack. The hash covers each frame's code address and
instruction position, the depth and the flags.

Use (the addresses are the process's: filter every probe on its pid, or
the walk reads another process's memory at them and ends in PYH_NO_THREAD or
an invalid frame, never a wrong name):

  layout = discover(pid)
  prog = ("tracepoint:syscalls:sys_enter_read /pid == %d/ {\n" % pid + walk(layout)
          + "if (@pyseen[$pyh] == 0) { @pyseen[$pyh] = 1;\n" + emit(layout) + "}\n"
          + "@n[$pyh, kstack] = count(); }")
  res = Resolver(pid, layout)
  for line in output: res.feed(line)   # with -f json: the printf record's "data"
  res.stack(pyh) -> Stack(frames=[Frame(func, file, line), ...], truncated, note)

Bounds: the thread list is walked at most MAX_THREADS entries, the frame
chain at most max_frames entries, counting those that are not frames of
their own (3.12+'s C-stack shims and 3.14+'s interpreter entry frames, at
the bottom and where C called Python; 3.11+'s incomplete frames). Deeper
stacks end with FLAG_TRUNCATED set and their innermost frames.
"""
import os
import re
import signal
import struct
import subprocess
from typing import List, NamedTuple, Optional

from . import discover as _discover
from .errors import ViewError

# python-ext/src/stacks_layout.h, field for field.
FIELDS = """magic version size py_version arch tp_delta tstate_head tstate_next
 tstate_thread_id tstate_frame cframe_current frame_kind frame_previous frame_code
 frame_instr frame_instr_size frame_owner owner_generator owner_skip_min code_tag_mask
 instr_kind codeunit_size ob_type code_type code_adaptive code_firsttraceable
 code_firstlineno code_name code_qualname code_filename code_linetable linetable_kind
 str_type str_length str_state str_kind_mask str_compact_mask str_ascii_mask
 str_ascii_data str_compact_data bytes_type bytes_size bytes_data""".split()
MAGIC = 0x31594c4b53595055
VERSION = 1
NONE = (1 << 64) - 1
ARCH_X86_64, ARCH_AARCH64 = 1, 2
FRAME_OBJECT, FRAME_INTERP = 1, 2
INSTR_BYTES, INSTR_UNITS, INSTR_PTR = 0, 1, 2
LINES_LNOTAB, LINES_PEP626, LINES_LOCATIONS = 0, 1, 2

PYH_NO_THREAD = 1
PYH_NO_FRAMES = 2
FLAG_TRUNCATED = 1
FLAG_INVALID = 2
FLAG_NO_THREAD = 4

MAX_FRAMES = 128   # default bound of a walk
MAX_FRAMES_LIMIT = 1024  # walk + emit pass the verifier: 0.17 up to 2048, 0.27 (3.15) 1536, not 2048
MAX_THREADS = 256  # thread states looked at to find the current thread's

ENABLE_HINT = ("start it with `python -m usdt script.py`, or with USDT_RUNTIME_PROBES=1 in "
               "its environment, or call usdt.enable_runtime_probes() in it")


class Layout:
    """The interpreter layout a process published (fields: FIELDS)."""

    def __init__(self, pid, address, values, probe):
        self.pid, self.address, self.probe = pid, address, probe
        for name, v in zip(FIELDS, values):
            setattr(self, name, v)

    @property
    def python(self):
        v = self.py_version
        return "%d.%d" % (v >> 24, (v >> 16) & 0xff)

    def has(self, name):
        return getattr(self, name) != NONE

    def __repr__(self):
        return "<Layout pid %d Python %s at %#x>" % (self.pid, self.python, self.address)


class Frame(NamedTuple):
    func: str
    file: str
    line: Optional[int]


class Stack(NamedTuple):
    frames: List[Frame]   # innermost first
    truncated: bool       # more frames than the walk's bound
    note: str             # "" or why the stack is short or empty


# ---- discover ---------------------------------------------------------------

def _layout_probe(pid):
    """The stack__layout probe record of pid, or a ViewError saying why not."""
    try:
        records = _discover.list_probes(_discover.usdt_bin(), pid)
    except ViewError as e:
        msg = str(e)
        raise ViewError(msg if str(pid) in msg else "process %d: %s" % (pid, msg))
    for r in records:
        if r.get("provider") == "python" and r.get("name") == "stack__layout":
            return r
    comm = _discover.comm_of(pid)
    has_rt = any(r.get("provider") == "python" and r.get("path", "").find("/python-") >= 0
                 for r in records)
    if has_rt:
        raise ViewError("process %d (%s) has the runtime python provider but no "
                        "python:stack__layout probe: its usdt extension predates Python "
                        "stacks; rebuild it" % (pid, comm))
    raise ViewError("process %d (%s) publishes no Python stack layout (no "
                    "python:stack__layout probe): it is not a Python process with the usdt "
                    "runtime probes on; %s" % (pid, comm, ENABLE_HINT))


def _spec(pid, path):
    if path.startswith("/") and not path.startswith("/proc/"):
        path = "/proc/%d/root%s" % (pid, path)
    return "usdt:%s:python:stack__layout" % path


def _read_mem(pid, address, size):
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as f:
        f.seek(address)
        return f.read(size)


def parse_layout(pid, address, data, probe=None):
    """A Layout from the bytes of the struct (checked: magic, version, size)."""
    n = len(data) // 8
    if n < 3:
        raise ViewError("process %d: the stack layout at %#x is too short (%d bytes)"
                        % (pid, address, len(data)))
    vals = struct.unpack("<%dQ" % n, data[:n * 8])
    if vals[0] != MAGIC:
        raise ViewError("process %d: no stack layout at %#x (bad magic %#x)"
                        % (pid, address, vals[0]))
    if vals[1] < VERSION or len(vals) < len(FIELDS):
        raise ViewError("process %d: stack layout version %d of %d bytes; this tool reads "
                        "version %d of at least %d bytes" % (pid, vals[1], len(data), VERSION,
                                                             8 * len(FIELDS)))
    return Layout(pid, address, vals[:len(FIELDS)], probe)


MARK = "USDTPYLAYOUT"


def _why(err):
    """bpftrace's reason from its stderr: its last ERROR line, else its last
    line that is not about itself (Attaching..., WARNING)."""
    lines = [l.strip() for l in err.splitlines() if l.strip()]
    errors = [l for l in lines if l.startswith("ERROR")]
    rest = [l for l in lines if not l.startswith(("Attach", "WARNING"))]
    return (errors or rest or [""])[-1]


def discover(pid, timeout=5.0):
    """The layout process pid publishes: bpftrace enables python:stack__layout
    (the extension then fires it at once and every ~100 ms), we read the struct
    from /proc/PID/mem at the address it gives. Raises ViewError."""
    if not isinstance(pid, int) or pid <= 0:
        raise ViewError("%r: not a process id" % (pid,), 2)
    if not os.path.exists("/proc/%d" % pid):
        raise ViewError("no process %d" % pid)
    rec = _layout_probe(pid)
    spec = _spec(pid, rec["path"])
    prog = ('%s /pid == %d/ { printf("%s %%lx %%ld %%ld\\n", arg0, arg1, arg2); exit(); }'
            % (spec, pid, MARK))
    # -p: this process's uprobe only (the /proc/PID/root path attaches once
    # under -p on 0.17 and 0.27). The kernel still raises the semaphore in
    # every process mapping the same image (measured on 0.17): those publish
    # their layout for the moment, unread.
    try:
        p = subprocess.Popen(["bpftrace", "-p", str(pid), "-e", prog], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             errors="replace")
    except FileNotFoundError:
        raise ViewError("bpftrace not found on PATH (Debian: apt-get install bpftrace)")
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # SIGINT, not SIGKILL: bpftrace then detaches and lowers the
        # semaphores it raised (bcc writes them in the process's memory).
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        if MARK not in out:
            gone = "" if os.path.exists("/proc/%d" % pid) else " (the process is gone)"
            why = _why(err)
            raise ViewError("process %d did not fire python:stack__layout within %.1f s%s%s"
                            % (pid, timeout, gone, (": " + why) if why else ""))
    m = re.search(r"^%s ([0-9a-f]+) (\d+) (\d+)$" % MARK, out, re.M)
    if not m:
        gone = "" if os.path.exists("/proc/%d" % pid) else " (the process is gone)"
        raise ViewError("reading the stack layout of process %d with bpftrace failed%s: %s"
                        % (pid, gone, _why(err) or "exit %s, no output" % p.returncode))
    address, size = int(m.group(1), 16), int(m.group(2))
    if size < 24 or size > 65536:
        raise ViewError("process %d: stack layout size %d is not plausible" % (pid, size))
    try:
        data = _read_mem(pid, address, size)
    except OSError as e:
        raise ViewError("cannot read process %d's memory at %#x: %s"
                        % (pid, address, e.strerror or e))
    return parse_layout(pid, address, data, rec)


# ---- the BPF side -------------------------------------------------------------

FNV_OFFSET = 0xcbf29ce484222325
FNV_PRIME = 0x100000001b3


def _u64(expr):
    return "*(uint64*)uptr(%s)" % expr


def _chain(l, max_frames, emit):
    """The frame walk: the same statements for walk (hash) and emit (print).

    The verifier follows a bounded loop iteration by iteration and keeps
    apart the states whose branch-deciding values differ: the loop branches
    on its entry counter and on per-entry flags only, never on the depth
    (which would multiply the states by every depth reachable at each step).
    So the bound counts chain entries, shims and incomplete frames included.
    """
    code = _u64("$pyf + %d" % l.frame_code)
    if l.code_tag_mask:
        code = "(%s & 0x%x)" % (code, (~l.code_tag_mask) & NONE)
    if l.frame_instr_size == 8:
        instr = _u64("$pyf + %d" % l.frame_instr)
    else:
        instr = "(uint64)*(int32*)uptr($pyf + %d)" % l.frame_instr
    skip = l.has("frame_owner") and l.has("owner_skip_min")
    s = []
    s.append("$pyf = %s;" % _u64("$pyts + %d" % l.tstate_frame))
    if l.has("cframe_current"):
        s.append("if ($pyf != 0) { $pyf = %s; }" % _u64("$pyf + %d" % l.cframe_current))
    s.append("$pyn = (uint64)0; $pystop = (uint64)0;")
    s.append("while ($pyn < %d && $pyf != 0 && $pystop == 0) {" % max_frames)
    s.append("  $pyn = $pyn + 1; $pyok = (uint64)1;")
    if l.has("frame_owner"):
        s.append("  $pyo = (uint64)*(uint8*)uptr($pyf + %d);" % l.frame_owner)
        if skip:
            s.append("  if ($pyo >= %d) { $pyok = (uint64)0; }" % l.owner_skip_min)
    s.append("  if ($pyok == 1) {")
    s.append("    $pyc = %s;" % code)
    s.append("    if (%s != 0x%x) { $pyfl = $pyfl | %d; $pystop = (uint64)1; $pyok = (uint64)0; }"
             % (_u64("$pyc + %d" % l.ob_type), l.code_type, FLAG_INVALID))
    s.append("  }")
    s.append("  if ($pyok == 1) {")
    s.append("    $pyx = %s;" % instr)
    if l.has("code_firsttraceable"):
        # 3.11+: a frame not yet past its RESUME is not the interpreter's
        # either (_PyFrame_IsIncomplete).
        s.append("    if ($pyo != %d && $pyx < $pyc + %d + %d * (uint64)*(int32*)uptr($pyc + %d)) "
                 "{ $pyok = (uint64)0; }" % (l.owner_generator, l.code_adaptive, l.codeunit_size,
                                     l.code_firsttraceable))
        s.append("    $pyx = $pyx - $pyc;")
    s.append("  }")
    s.append("  if ($pyok == 1) {")
    if emit:
        s.append('    printf("PYF %%lx %%d %%lx %%d %%d\\n", $pyh, $pyd, $pyc, $pyx, '
                 '*(int32*)uptr($pyc + %d));' % l.code_firstlineno)
    else:
        s.append("    $pyh = ($pyh ^ $pyc) * 0x%x; $pyh = ($pyh ^ $pyx) * 0x%x;"
                 % (FNV_PRIME, FNV_PRIME))
    s.append("    $pyd = $pyd + 1;")
    s.append("  }")
    s.append("  if ($pystop == 0) { $pyf = %s; }" % _u64("$pyf + %d" % l.frame_previous))
    s.append("}")
    # The counter's value at the exit differs between paths: forget it, so
    # that the verifier's states after the loop are one, not one a count.
    s.append("$pyn = (uint64)0;")
    # Entries left: truncated, unless the one left is the last and a shim
    # (3.12+'s entry frame at the bottom of every thread's chain).
    if skip:
        s.append("if ($pystop == 0 && $pyf != 0) {")
        s.append("  if ((uint64)*(uint8*)uptr($pyf + %d) < %d || %s != 0) { $pyfl = $pyfl | %d; }"
                 % (l.frame_owner, l.owner_skip_min, _u64("$pyf + %d" % l.frame_previous),
                    FLAG_TRUNCATED))
        s.append("}")
    else:
        s.append("if ($pystop == 0 && $pyf != 0) { $pyfl = $pyfl | %d; }" % FLAG_TRUNCATED)
    return s


def _thread_pointer(l):
    if l.arch == ARCH_AARCH64:
        tp = "(uint64)uptr(curtask->thread.uw.tp_value)"
    elif l.arch == ARCH_X86_64:
        tp = "(uint64)uptr(curtask->thread.fsbase)"
    else:
        raise ViewError("stack layout of process %d: unknown architecture %d" % (l.pid, l.arch))
    # pthread_self() (what thread_id holds) minus the thread pointer: 0 on
    # x86-64 glibc, minus sizeof(struct pthread) on aarch64 (a literal above
    # INT64_MAX is not one every bpftrace takes: subtract instead).
    if l.tp_delta >= 1 << 63:
        tp = "(%s - 0x%x)" % (tp, (1 << 64) - l.tp_delta)
    elif l.tp_delta:
        tp = "(%s + 0x%x)" % (tp, l.tp_delta)
    return tp


def _check(layout, max_frames):
    if not isinstance(layout, Layout):
        raise TypeError("layout must come from discover()")
    if not (1 <= max_frames <= MAX_FRAMES_LIMIT):
        raise ViewError("max_frames must be 1..%d, not %r" % (MAX_FRAMES_LIMIT, max_frames))


def walk(layout, max_frames=MAX_FRAMES):
    """bpftrace statements for any probe's action whose current task is the
    thread of interest: they set $pyh (see the module's doc). All variables
    they use start with $py."""
    _check(layout, max_frames)
    l = layout
    s = ["$pyh = (uint64)0; $pyd = (uint64)0; $pyfl = (uint64)0; $pyf = (uint64)0; $pyc = (uint64)0; $pyx = (uint64)0;",
         "$pyo = (uint64)0; $pyn = (uint64)0; $pystop = (uint64)0; $pyok = (uint64)0;",
         "$pytp = %s;" % _thread_pointer(l),
         "$pyts = %s; $pyi = (uint64)0; $pyfound = (uint64)0;" % _u64("0x%x" % l.tstate_head),
         "while ($pyi < %d && $pyts != 0 && $pyfound == 0) {" % MAX_THREADS,
         "  $pyi = $pyi + 1;",
         "  if (%s == $pytp) { $pyfound = (uint64)1; } else { $pyts = %s; }"
         % (_u64("$pyts + %d" % l.tstate_thread_id), _u64("$pyts + %d" % l.tstate_next)),
         "}",
         "$pyi = (uint64)0;",
         "if ($pyfound == 0) { $pyh = (uint64)%d; $pyfl = (uint64)%d; } else {" % (PYH_NO_THREAD, FLAG_NO_THREAD),
         "$pyh = (uint64)0x%x;" % FNV_OFFSET]
    s += ["  " + x for x in _chain(l, max_frames, emit=False)]
    # (No branch on $pyd: see _chain. No frame hashed leaves $pyh as it was.)
    s += ["  if ($pyh == 0x%x && $pyfl == 0) { $pyh = (uint64)%d; } else {" % (FNV_OFFSET, PYH_NO_FRAMES),
          "    $pyh = ($pyh ^ (($pyd << 8) | $pyfl)) * 0x%x;" % FNV_PRIME,
          "    if ($pyh < 16) { $pyh = $pyh + 16; }",
          "  }",
          "}"]
    # emit() re-walks with the same bound: remember it for it.
    layout._max_frames = max_frames
    return "\n".join(s) + "\n"


def emit(layout, max_frames=None):
    """bpftrace statements, after walk()'s in the same action: print the
    stack whose hash walk() put in $pyh as PYF lines and one PYE line.
    max_frames: walk()'s (by default the one the last walk() of this layout
    was given), so that both see the same frames."""
    if max_frames is None:
        max_frames = getattr(layout, "_max_frames", MAX_FRAMES)
    _check(layout, max_frames)
    l = layout
    s = ["if ($pyfound != 0) {", "  $pyd = (uint64)0; $pyfl = (uint64)0;"]
    s += ["  " + x for x in _chain(l, max_frames, emit=True)]
    s += ["}",
          'printf("PYE %lx %d %d\\n", $pyh, $pyd, $pyfl);']
    return "\n".join(s) + "\n"


# ---- resolving ------------------------------------------------------------------

def _varint(t, i):
    b = t[i]
    i += 1
    val, shift = b & 63, 0
    while b & 64:
        b = t[i]
        i += 1
        shift += 6
        val |= (b & 63) << shift
    return val, i


def _svarint(t, i):
    v, i = _varint(t, i)
    return (-(v >> 1) if v & 1 else v >> 1), i


def line_lnotab(table, first, lasti_bytes):
    """3.8/3.9 co_lnotab: (address increment, signed line increment) pairs."""
    line, addr = first, 0
    for i in range(0, len(table) - 1, 2):
        addr += table[i]
        if addr > lasti_bytes:
            break
        d = table[i + 1]
        line += d - 256 if d >= 128 else d
    return line


def line_pep626(table, first, lasti_bytes):
    """3.10 co_linetable (PEP 626): (byte length, signed line delta; -128:
    no line) pairs over address ranges."""
    line, start = first, 0
    for i in range(0, len(table) - 1, 2):
        end = start + table[i]
        d = table[i + 1]
        d = d - 256 if d >= 128 else d
        cur = None
        if d != -128:
            line += d
            cur = line
        if start <= lasti_bytes < end:
            return cur
        start = end
    return None


def line_locations(table, first, lasti_units):
    """3.11+ co_linetable, the location table: entries of 1..8 code units,
    each with its line as a delta in one of five forms."""
    line, addr, i, n = first, 0, 0, len(table)
    while i < n:
        b = table[i]
        i += 1
        code, length = (b >> 3) & 15, (b & 7) + 1
        cur = None
        if code == 15:          # no location
            pass
        elif code == 14:        # long form: line delta, end line, columns
            d, i = _svarint(table, i)
            line += d
            cur = line
            _, i = _varint(table, i)
            _, i = _varint(table, i)
            _, i = _varint(table, i)
        elif code == 13:        # no column: line delta
            d, i = _svarint(table, i)
            line += d
            cur = line
        elif code >= 10:        # one line form: delta code-10, two column bytes
            line += code - 10
            cur = line
            i += 2
        else:                   # short form: same line, one column byte
            cur = line
            i += 1
        if addr <= lasti_units < addr + length:
            return cur
        addr += length
    return None


class _Code(NamedTuple):
    head: bytes     # the bytes validated again on each reuse
    func: str
    file: str
    table: bytes
    first: int


class Resolver:
    """PYF/PYE lines of one process -> stacks with names, files and lines.

    Code objects are read from /proc/PID/mem when their PYF line arrives (the
    process is alive then): one whose type is no longer PyCode_Type or whose
    first line differs from what BPF read shows as "[freed code object]",
    never as another function's name."""

    FREED = "[freed code object]"

    def __init__(self, pid, layout):
        self.pid, self.layout = pid, layout
        self._stacks = {}   # pyh -> [frames dict index -> Frame, depth, flags]
        self._codes = {}    # code address -> _Code
        self._mem = None
        l = layout
        names = ["ob_type", "code_firstlineno", "code_name", "code_filename", "code_linetable"]
        if l.has("code_qualname"):
            names.append("code_qualname")
        self._head_len = max(getattr(l, n) for n in names) + 8

    # memory
    def _read(self, address, size):
        if self._mem is None:
            try:
                self._mem = open("/proc/%d/mem" % self.pid, "rb", buffering=0)
            except OSError:
                return None
        try:
            self._mem.seek(address)
            return self._mem.read(size)
        except (OSError, OverflowError, ValueError):
            return None

    def _u64(self, data, off):
        return struct.unpack_from("<Q", data, off)[0]

    def _str(self, address):
        l = self.layout
        if address == 0:
            return None
        h = self._read(address, l.str_compact_data)
        if not h or len(h) < l.str_compact_data or self._u64(h, l.ob_type) != l.str_type:
            return None
        length = struct.unpack_from("<q", h, l.str_length)[0]
        state = struct.unpack_from("<I", h, l.str_state)[0]
        if not state & l.str_compact_mask or length < 0 or length > 1 << 20:
            return None  # code objects' names are always compact
        mask = l.str_kind_mask
        shift = (mask & -mask).bit_length() - 1
        kind = (state & mask) >> shift
        if state & l.str_ascii_mask:
            data = self._read(address + l.str_ascii_data, length)
            return data.decode("ascii", "replace") if data is not None else None
        if kind not in (1, 2, 4):
            return None
        data = self._read(address + l.str_compact_data, length * kind)
        if data is None or len(data) != length * kind:
            return None
        enc = {1: "latin-1", 2: "utf-16-le", 4: "utf-32-le"}[kind]
        return data.decode(enc, "surrogatepass" if kind > 1 else "strict")

    def _bytes(self, address):
        l = self.layout
        h = self._read(address, l.bytes_data)
        if not h or len(h) < l.bytes_data or self._u64(h, l.ob_type) != l.bytes_type:
            return None
        n = struct.unpack_from("<q", h, l.bytes_size)[0]
        if n < 0 or n > 1 << 24:
            return None
        return self._read(address + l.bytes_data, n)

    def _code(self, address, first):
        """The code object at address, if it still is the one BPF saw."""
        l = self.layout
        head = self._read(address, self._head_len)
        if not head or len(head) < self._head_len or self._u64(head, l.ob_type) != l.code_type:
            return None
        if struct.unpack_from("<i", head, l.code_firstlineno)[0] != first:
            return None
        c = self._codes.get(address)
        if c is not None and c.head == head:
            return c
        name = None
        if l.has("code_qualname"):
            name = self._str(self._u64(head, l.code_qualname))
        if name is None:
            name = self._str(self._u64(head, l.code_name))
        file = self._str(self._u64(head, l.code_filename))
        table = self._bytes(self._u64(head, l.code_linetable))
        if name is None or file is None:
            return None
        c = _Code(head, name, file, table or b"", first)
        self._codes[address] = c
        return c

    def line_of(self, code, instr):
        l = self.layout
        try:
            if l.instr_kind == INSTR_PTR:
                units = (instr - l.code_adaptive) // l.codeunit_size
                if units < 0:
                    return None
                return line_locations(code.table, code.first, units)
            if l.instr_kind == INSTR_UNITS:
                if instr < 0:
                    return None
                return line_pep626(code.table, code.first, instr * l.codeunit_size)
            if instr < 0:
                return None
            return line_lnotab(code.table, code.first, instr)
        except IndexError:
            return None  # a table cut short: no line rather than a wrong one

    def frame(self, address, instr, first):
        c = self._code(address, first)
        if c is None:
            return Frame(self.FREED, "?", None)
        return Frame(c.func, c.file, self.line_of(c, instr))

    def feed(self, line):
        """Take one PYF/PYE line; True if it was one."""
        if line.startswith("PYF "):
            p = line.split()
            if len(p) != 6:
                return False
            try:
                pyh, idx, code = int(p[1], 16), int(p[2]), int(p[3], 16)
                instr, first = int(p[4]), int(p[5])
            except ValueError:
                return False
            st = self._stacks.setdefault(pyh, [{}, None, 0])
            if idx not in st[0]:
                st[0][idx] = self.frame(code, instr, first)
            return True
        if line.startswith("PYE "):
            p = line.split()
            if len(p) != 4:
                return False
            try:
                pyh, depth, flags = int(p[1], 16), int(p[2]), int(p[3])
            except ValueError:
                return False
            st = self._stacks.setdefault(pyh, [{}, None, 0])
            st[1], st[2] = depth, flags
            return True
        return False

    def known(self, pyh):
        """Whether the stack pyh was fed completely (its PYE line arrived)."""
        st = self._stacks.get(pyh)
        return pyh in (PYH_NO_THREAD, PYH_NO_FRAMES) or (st is not None and st[1] is not None)

    def stack(self, pyh):
        if pyh == PYH_NO_THREAD:
            return Stack([], False, "no Python thread state")
        if pyh == PYH_NO_FRAMES:
            return Stack([], False, "no Python frames")
        st = self._stacks.get(pyh)
        if st is None:
            return Stack([], False, "unknown stack %x (its PYF/PYE lines were not fed)" % pyh)
        frames_by_idx, depth, flags = st
        n = depth if depth is not None else (max(frames_by_idx) + 1 if frames_by_idx else 0)
        frames = [frames_by_idx.get(i, Frame("[frame line lost]", "?", None)) for i in range(n)]
        notes = []
        if depth is None:
            notes.append("incomplete (no PYE line)")
        if flags & FLAG_INVALID:
            notes.append("invalid frame")
        if flags & FLAG_NO_THREAD:
            notes.append("no Python thread state")
        return Stack(frames, bool(flags & FLAG_TRUNCATED), ", ".join(notes))

    def close(self):
        if self._mem is not None:
            self._mem.close()
            self._mem = None
