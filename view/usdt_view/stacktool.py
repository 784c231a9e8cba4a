"""usdt stacks and usdt flame: the user's errors checked in order (usage,
process, bpftrace and root, a Python process, the event, the runtime
provider's stack layout), then one trace (stacks.run) and its output."""
import os
import sys

from . import discover, flame, stacks
from .errors import ViewError
from .session import parse_pid
from .tracer import check_environment


def _writable(path):
    d = os.path.dirname(os.path.abspath(path))
    if not (os.path.isdir(d) and os.access(d, os.W_OK)):
        raise ViewError("%s: cannot write there (no such directory, or not writable)" % path)


def _python_process(pid):
    """A CPython: its executable or a library it maps is python's."""
    try:
        exe = os.path.basename(os.readlink("/proc/%d/exe" % pid))
    except OSError:
        exe = ""
    if exe.startswith("python"):
        return
    try:
        with open("/proc/%d/maps" % pid) as f:
            if any("libpython" in line for line in f):
                return
    except OSError:
        pass
    raise ViewError("process %d (%s) is not a Python process (neither its executable%s nor a "
                    "library it maps is python's)" % (pid, discover.comm_of(pid), " " + exe if exe else ""))


def _engine():
    try:
        from . import pystacks
    except ImportError as e:
        raise ViewError("this usdt has no Python stack walker (usdt_view.pystacks: %s)" % e)
    return pystacks


def _prepare(what, args):
    if args.seconds is not None and args.seconds <= 0:
        raise ViewError("--seconds must be positive", 2)
    if args.hz < 1 or args.hz > 10000:
        raise ViewError("--hz must be between 1 and 10000", 2)
    if args.max_frames is not None and args.max_frames < 1:
        raise ViewError("--max-frames must be at least 1", 2)
    if args.program and (args.event or args.print_program):
        raise ViewError("--program runs your own program: no --event or --print-program with it", 2)
    pid = parse_pid(args.pid)
    check_environment()
    _python_process(pid)
    args.text = None
    if args.program:
        args.text, event = stacks.user_program(args.program)
    else:
        event = stacks.parse_event(args.event, pid, args.hz, discover.usdt_bin())
    pystacks = _engine()
    layout = pystacks.discover(pid)
    return pid, event, pystacks, layout


def _program(what, pid, event, pystacks, layout, max_frames):
    kw = {"max_frames": max_frames} if max_frames else {}
    return stacks.build(pid, event, pystacks.walk(layout, **kw), pystacks.emit(layout), what)


def stacks_cmd(what, args):
    if args.top < 0:
        raise ViewError("--top must be 0 (all) or more", 2)
    if not args.event and not args.program:
        raise ViewError("--event EVENT is needed (cpu, read, offcpu, sys_enter_read, a bpftrace "
                        "probe...; usdt flame samples on-CPU by default)", 2)
    pid, event, pystacks, layout = _prepare(what, args)
    if args.print_program:
        sys.stdout.write(_program(what, pid, event, pystacks, layout, args.max_frames))
        return 0
    comm = discover.comm_of(pid)  # now: the process may end while traced
    res = stacks.run(pid, event, pystacks, layout, args.seconds, what, max_frames=args.max_frames,
                     program=args.text)
    if args.folded:
        sys.stdout.write(stacks.folded_lines(stacks.folded(res, lines=not args.no_lines)))
        _summary(what, res)
    else:
        sys.stdout.write(stacks.report(res, pid, comm, args.top or None))
    sys.stdout.flush()
    return 0


def flame_cmd(what, args):
    outs = [f for f in (args.svg, args.html, args.folded) if f]
    if not outs and not args.print_program:
        raise ViewError("say what to write: --svg FILE, --html FILE or --folded FILE", 2)
    for f in outs:
        if f != "-":
            _writable(f)
    pid, event, pystacks, layout = _prepare(what, args)
    if args.print_program:
        sys.stdout.write(_program(what, pid, event, pystacks, layout, args.max_frames))
        return 0
    comm = discover.comm_of(pid)
    res = stacks.run(pid, event, pystacks, layout, args.seconds, what, max_frames=args.max_frames,
                     program=args.text)
    folded = stacks.folded(res, lines=not args.no_lines)
    title = args.title or "%s: %s (pid %d)" % (comm, "on-CPU" if event.mode == "cpu" else event.label.split(",")[0], pid)
    total = sum(folded.values())
    sub = "%s, %.1f s: %s in %d stacks%s" % (
        event.label, res.seconds, flame.fmt_weight(total, event.unit), len(folded),
        ("; %d events lost" % res.lost) if res.lost else "")
    _summary(what, res)
    if args.svg:
        _write(what, args.svg, flame.render_svg(folded, title, event.unit, sub))
    if args.html:
        _write(what, args.html, flame.render_html(folded, title, event.unit, sub))
    if args.folded:
        _write(what, args.folded, stacks.folded_lines(folded))
    return 0


def _summary(what, res):
    """One line on stderr: what the kernel counted (@n, apart from the
    per-stack map), for a user comparing with the folded lines' sum."""
    ev = res.event
    line = "%s: %d %s in %d stacks, %.1f s" % (what, res.total, "samples" if ev.mode == "cpu" else "events",
                                               len(res.counts), res.seconds)
    if ev.weighted:
        line += ", %s in all" % flame.fmt_weight(sum(res.times.values()), "ns")
    sys.stderr.write(line + "\n")


def _write(what, path, text):
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise ViewError("%s: %s" % (path, e.strerror))
    sys.stderr.write("%s: wrote %s\n" % (what, path))

