"""usdt top / usdt heatmap: argument parsing and the exit status (0 done,
1 an error a user meets, said in one line, 2 usage)."""
import argparse
import os
import signal
import sys

from . import heatmap, top
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
        sys.stderr.write("usage: usdt top [options] PID | usdt heatmap [options] PID PAIR "
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
