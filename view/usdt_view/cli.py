"""usdt top / usdt heatmap / usdt stacks / usdt flame: argument parsing and the exit status (0 done,
1 an error a user meets, said in one line, 2 usage)."""
import argparse
import os
import signal
import sys

from . import heatmap, stacktool, top
from .errors import ViewError
from .model import SORT_KEYS
from .session import Session, discover_all, parse_pid


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ViewError("%s (see --help)" % message, 2)


def top_parser():
    p = Parser(prog="usdt top", description=(
        "A live view of a process's USDT probes, traced with bpftrace: fires per second "
        "of every probe; calls per second and latency p50/p99/max of every pair found by "
        "name (X__entry/X__return, X__start/X__done, X-start/X-done, @fbt's), matched per "
        "thread and nesting-aware; one row per function for the python and node runtime "
        "providers. Keys: q quit, s change the sort. Without a terminal: one plain block "
        "per interval; --json: one JSON object per interval."))
    p.add_argument("pid", help="process id")
    p.add_argument("-p", "--provider", action="append", help="only this provider (repeatable)")
    p.add_argument("-g", "--probe", action="append", metavar="GLOB",
                   help="only probes whose provider:name matches GLOB (repeatable); "
                        "python:line is left out unless a glob names it")
    p.add_argument("-m", "--min-rate", type=float, default=0, metavar="N", help="hide rows below N per second")
    p.add_argument("-s", "--sort", choices=SORT_KEYS, default="rate")
    p.add_argument("-i", "--interval", type=float, default=1.0, metavar="SEC", help="refresh interval (default 1)")
    p.add_argument("-w", "--window", type=float, default=5.0, metavar="SEC",
                   help="latency percentiles over the last SEC seconds (default 5)")
    p.add_argument("-n", "--count", type=int, metavar="N", help="stop after N intervals")
    p.add_argument("--json", action="store_true", help="one JSON object per interval")
    return p


def heatmap_parser():
    p = Parser(prog="usdt heatmap", description=(
        "A live latency heat map of one probe pair of a process: x time in one-second "
        "columns, y latency in log buckets (4 per power of two), colour the count. "
        "Served on 127.0.0.1 only, at a URL with a random token (printed); or written "
        "to an SVG (--svg) or a static HTML page (--html) after --seconds."))
    p.add_argument("pid", help="process id")
    p.add_argument("pair", help="PROVIDER:NAME as usdt top names a pair (shop:order for "
                                "order__start/order__done), PROVIDER:ENTRY,RETURN, or "
                                "python:function[:FUNC] for a runtime provider's functions")
    p.add_argument("--seconds", type=float, metavar="N", help="trace N seconds, then write or stop")
    p.add_argument("--svg", metavar="FILE", help="write a self-contained SVG heat map")
    p.add_argument("--html", metavar="FILE", help="write a static HTML snapshot")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    p.add_argument("--columns", type=int, default=300, metavar="N", help="seconds kept and shown (default 300)")
    return p


def _stack_options(p, event_help):
    p.add_argument("pid", help="process id (a Python process with the usdt runtime provider: "
                               "started with python -m usdt, or USDT_RUNTIME_PROBES=1)")
    p.add_argument("-e", "--event", metavar="EVENT", help=event_help)
    p.add_argument("--seconds", type=float, metavar="N", help="trace N seconds (default: until q or Ctrl-C)")
    p.add_argument("--hz", type=int, default=99, metavar="N", help="on-CPU sampling rate (default 99)")
    p.add_argument("--max-frames", type=int, metavar="N",
                   help="Python frames walked per stack (deeper ones end with a [truncated] frame)")
    p.add_argument("--print-program", action="store_true",
                   help="print the bpftrace program the tool would run, and exit")
    p.add_argument("--no-lines", action="store_true",
                   help="folded stacks and flame graphs by function and file, not line: a "
                        "function's samples in one frame")
    p.add_argument("--program", metavar="FILE",
                   help="run this program instead: one of --print-program's, with probes of "
                        "your own added (each: the walk, the @pyseen block, @c[kstack, $pyh])")


EVENTS = ("cpu (a profile timer, filtered by pid), read (time blocked in read(2), "
          "per thread), offcpu (time off CPU, from sched_switch out to back in), a "
          "bpftrace probe (tracepoint:CAT:NAME, kprobe:FUNC, uprobe:PATH:SYM, "
          "usdt:PATH:PROV:NAME), a tracepoint by name (sys_enter_read), or "
          "PROVIDER:NAME of a USDT probe of the process")


def stacks_parser():
    p = Parser(prog="usdt stacks", description=(
        "The distinct stacks of a Python process at an event, most frequent (or, for "
        "read and offcpu, longest) first: its Python frames, innermost first, as "
        "func (file:line), and the kernel's apart. Counted in the kernel per (kernel "
        "stack, Python stack), with bpftrace. Keys: q stops and prints."))
    _stack_options(p, "what to count: " + EVENTS)
    p.add_argument("--folded", action="store_true",
                   help="print folded stacks (FlameGraph's flamegraph.pl, speedscope) instead")
    p.add_argument("--top", type=int, default=20, metavar="N", help="the N heaviest stacks (default 20; 0 all)")
    return p


def flame_parser():
    p = Parser(prog="usdt flame", description=(
        "A flame graph of a Python process: its Python frames and the kernel's, on-CPU "
        "by default (a profile timer), or at an event, or time-weighted (read, offcpu). "
        "Written after --seconds (or q / Ctrl-C) as SVG, as a self-contained HTML page "
        "(click to zoom, search), or as folded stacks."))
    _stack_options(p, "what to sample (default cpu): " + EVENTS)
    p.add_argument("--svg", metavar="FILE", help="write an SVG flame graph")
    p.add_argument("--html", metavar="FILE", help="write an HTML page (zoom, search)")
    p.add_argument("--folded", metavar="FILE", help="write folded stacks (FlameGraph's format; '-' stdout)")
    p.add_argument("--title", help="the graph's title")
    return p


def _on_term(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    cmd = argv[0] if argv else None
    what = "usdt %s" % (cmd or "top")
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGHUP, _on_term)
    session = None
    try:
        if cmd == "top":
            args = top_parser().parse_args(argv[1:])
            if args.interval < 0.01 or args.window <= 0:
                raise ViewError("--interval must be at least 0.01 s and --window positive", 2)
            pid = parse_pid(args.pid)
            _, probes, pairs = discover_all(what, pid, args.provider, args.probe)
            session = Session(what, pid, probes, pairs, args.interval, args.window).start()
            return top.run(session, args)
        if cmd == "heatmap":
            args = heatmap_parser().parse_args(argv[1:])
            if (args.svg or args.html) and not args.seconds:
                raise ViewError("--svg and --html need --seconds N (how long to trace)", 2)
            if args.seconds is not None and args.seconds <= 0:
                raise ViewError("--seconds must be positive", 2)
            for f in (args.svg, args.html):
                d = os.path.dirname(os.path.abspath(f)) if f else None
                if d and not (os.path.isdir(d) and os.access(d, os.W_OK)):
                    raise ViewError("%s: cannot write there (no such directory, or not writable)" % f)
            pid = parse_pid(args.pid)
            records, probes, pairs = discover_all(what, pid)
            probes, pair = heatmap.select(records, args.pair, pid)
            session = Session(what, pid, probes, [pair], 1.0, 1.0).start()
            return heatmap.run(session, pair, args)
        if cmd in ("stacks", "flame"):
            # Started in the background by a script, SIGINT comes ignored;
            # a kill -INT (a Ctrl-C sent on) still stops and prints.
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if cmd == "stacks":
            return stacktool.stacks_cmd(what, stacks_parser().parse_args(argv[1:]))
        if cmd == "flame":
            return stacktool.flame_cmd(what, flame_parser().parse_args(argv[1:]))
        sys.stderr.write("usage: usdt top [options] PID | usdt heatmap [options] PID PAIR | "
                         "usdt stacks PID --event EVENT | usdt flame PID --svg FILE "
                         "(--help for each)\n")
        return 2
    except ViewError as e:
        sys.stderr.write("%s: %s\n" % (what, e))
        return e.status
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        return 0
    finally:
        if session:
            session.close()
