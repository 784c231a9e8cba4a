"""usdt top: the terminal view (curses), one plain block per interval when
stdout is not a terminal, or one JSON object per interval (--json)."""
import curses
import json
import queue
import sys
import time

from . import stats
from .model import SORT_KEYS, filter_rows, sort_rows

COLUMNS = (("RATE/s", 9), ("CALLS/s", 9), ("P50", 8), ("P99", 8), ("MAX", 8))


def _cells(r):
    return (stats.fmt_rate(r.get("rate")), stats.fmt_rate(r.get("calls")), stats.fmt_ns(r.get("p50_ns")),
            stats.fmt_ns(r.get("p99_ns")), stats.fmt_ns(r.get("max_ns")))


def table(rows, width=None):
    name_w = max([len("NAME")] + [len(r["name"]) for r in rows])
    if width:
        name_w = max(10, min(name_w, width - sum(w + 1 for _, w in COLUMNS) - 1))
    lines = ["%-*s %s" % (name_w, "NAME", " ".join("%*s" % (w, h) for h, w in COLUMNS))]
    for r in rows:
        name = r["name"] if len(r["name"]) <= name_w else r["name"][:name_w - 1] + "~"
        lines.append("%-*s %s" % (name_w, name, " ".join("%*s" % (w, c) for (_, w), c in zip(COLUMNS, _cells(r)))))
    return lines


def header(s, sort_key):
    skipped = s.tracer.skipped()
    return "usdt top: pid %d (%s), %s%s, %d pairs, interval %gs, latency over %gs, sort %s" % (
        s.pid, s.comm, s.attaching(), ", %d not attachable (--json names them)" % len(skipped) if skipped else "",
        len(s.pairs), s.interval, s.model.window, sort_key)


def _attached(rows, skipped):
    """Rows of probes bpftrace attached: a row of zeros for one it could
    not attach would say the probe never fired."""
    if not skipped:
        return rows
    return [r for r in rows if not any((r["provider"], r.get(k)) in skipped for k in ("probe", "entry", "return"))]


def _rows(s, sort_key, min_rate):
    rows = _attached(s.model.rows(), set(s.tracer.skipped()))
    return sort_rows(filter_rows(rows, min_rate), sort_key)


def run_stream(s, sort_key, min_rate, as_json, count):
    """Plain or JSON, one block per interval, until count intervals, the end
    of bpftrace, or Ctrl-C."""
    n = 0
    while count is None or n < count:
        snap = s.tracer.next(timeout=None)
        if snap is None:
            return s.fail()
        s.model.add(snap)
        rows = _rows(s, sort_key, min_rate)
        if as_json:
            print(json.dumps({"time": round(snap.end, 3), "pid": s.pid, "comm": s.comm,
                              "interval_s": round(snap.dt, 4), "window_s": round(s.model.span(), 3),
                              "probes": len(s.probes), "programs": len(s.programs),
                              "not_attached": ["%s:%s" % k for k in s.tracer.skipped()], "rows": rows}), flush=True)
        else:
            print(time.strftime("%H:%M:%S ", time.localtime(snap.end)) + header(s, sort_key))
            print("\n".join(table(rows)) + "\n", flush=True)
        n += 1
    return 0


def run_curses(s, sort_key, min_rate, count):
    def ui(scr):
        curses.curs_set(0)
        scr.timeout(100)
        key = sort_key
        n, status = 0, "attaching %d probes with bpftrace..." % len(s.probes)
        while count is None or n < count:
            try:
                while True:
                    snap = s.tracer.next(timeout=0)
                    if snap is None:
                        return None  # said once the terminal is back
                    s.model.add(snap)
                    n += 1
                    status = None
            except queue.Empty:
                pass
            h, w = scr.getmaxyx()
            scr.erase()
            _put(scr, 0, header(s, key)[:w - 1], curses.A_BOLD)
            _put(scr, 1, "q quit  s sort (%s)  min rate %g/s" % ("/".join(SORT_KEYS), min_rate or 0), 0)
            if status:
                _put(scr, 3, status, 0)
            else:
                lines = table(_rows(s, key, min_rate), w - 1)
                for y, line in enumerate(lines[:max(0, h - 3)]):
                    _put(scr, 3 + y, line[:w - 1], curses.A_REVERSE if y == 0 else 0)
            scr.refresh()
            c = scr.getch()
            if c in (ord("q"), ord("Q")):
                return 0
            if c in (ord("s"), ord("S")):
                key = SORT_KEYS[(SORT_KEYS.index(key) + 1) % len(SORT_KEYS)]
        return 0
    rc = curses.wrapper(ui)
    return s.fail() if rc is None else rc


def _put(scr, y, text, attr):
    try:
        scr.addstr(y, 0, text, attr)
    except curses.error:  # the last cell of the screen, or a terminal shrunk meanwhile
        pass


def run(s, args):
    if args.json or not sys.stdout.isatty():
        return run_stream(s, args.sort, args.min_rate, args.json, args.count)
    return run_curses(s, args.sort, args.min_rate, args.count)
