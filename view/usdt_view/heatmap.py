"""usdt heatmap: one pair's latencies, one column a second, shown live by a
page served on 127.0.0.1 (server.py), or written as SVG (svg.py) or a
static HTML page (page.py) after --seconds."""
import queue
import sys
import threading
import time

from . import discover, page, svg
from .errors import ViewError
from .server import Server


def select(records, spec, pid):
    """The probes and the one pair named by spec (see usdt heatmap --help)."""
    prov, sep, rest = spec.partition(":")
    if not sep or not prov or not rest:
        raise ViewError("%s: a pair is PROVIDER:NAME (usdt top lists them)" % spec, 2)
    only = None
    probes, pairs = discover.build(records, [prov], ["*"])
    if "," in rest:
        e, _, r = rest.partition(",")
        by = {(p.provider, p.name): p for p in probes}
        if (prov, e) not in by or (prov, r) not in by:
            raise ViewError("no probes %s:%s and %s:%s in process %d" % (prov, e, prov, r, pid))
        pair = discover.Pair(0, prov, "%s,%s" % (e, r), by[(prov, e)], by[(prov, r)],
                             func=(prov in discover.RUNTIME_PROVIDERS and (e, r) in discover.FUNC_PAIRS))
        pair.key = next(((ke, kr) for ke_, kr_, ke, kr, _ in discover.KEYED_PAIRS.get(prov, ())
                         if (ke_, kr_) == (e, r)), None)
    else:
        name, _, only = rest.partition(":")
        found = [p for p in pairs if p.name == name]
        if not found or (only and not found[0].func):
            have = ", ".join(p.full for p in pairs) or "none"
            raise ViewError("no probe pair %s in process %d (pairs of %s: %s)" % (spec, pid, prov, have))
        pair = found[0]
    pair.only = only or None
    # Only the two probes: re-numbered for a program of their own.
    e, r = pair.entry, pair.ret
    e2 = discover.Probe(0, e.provider, e.name, e.path, e.types)
    r2 = discover.Probe(1, r.provider, r.name, r.path, r.types)
    e2.sites, r2.sites = e.sites, r.sites
    out = discover.Pair(0, pair.provider, pair.name, e2, r2, pair.func)
    out.only, out.key = pair.only, pair.key
    return [e2, r2], out


class Store:
    """The columns, oldest first, at most `keep`; read by the server's
    threads while the main one adds."""

    def __init__(self, title, keep):
        self.title, self.keep = title, keep
        self.lock = threading.Lock()
        self.columns = []

    def add(self, snap, pair):
        if pair.func:
            buckets = {}
            for k, v in snap.flat.items():
                for b, n in v.items():
                    buckets[b] = buckets.get(b, 0) + n
            mx = max(snap.fmax.values(), default=None)
        else:
            buckets, mx = dict(snap.lat.get(0, {})), snap.max.get(0)
        col = {"t": round(snap.end, 3), "dt": round(snap.dt, 4),
               "buckets": {str(b): n for b, n in sorted(buckets.items())},
               "calls": sum(buckets.values()), "max_ns": mx,
               "entries": snap.counts.get(0, 0)}
        with self.lock:
            self.columns.append(col)
            del self.columns[:-self.keep]

    def data(self):
        with self.lock:
            return {"title": self.title, "columns": list(self.columns)}


def run(s, pair, args):
    label = pair.full + (":" + pair.only if pair.only else "")
    store = Store("%s in pid %d (%s)" % (label, s.pid, s.comm), max(10, args.columns))
    files = args.svg or args.html
    server = None
    if not files:
        try:
            server = Server(store, args.port)
        except OSError as e:
            raise ViewError("cannot listen on 127.0.0.1:%d: %s" % (args.port, e.strerror))
        server.start()
        print("usdt heatmap: %s  (%s; Ctrl-C to stop)" % (server.url, store.title), flush=True)
    deadline = time.monotonic() + args.seconds if args.seconds else None
    try:
        while deadline is None or time.monotonic() < deadline:
            try:
                snap = s.tracer.next(timeout=0.2)
            except queue.Empty:
                continue
            if snap is None:
                return s.fail()
            skipped = s.tracer.skipped()
            if skipped:
                raise ViewError("bpftrace could not attach %s (libbpf cannot read its arguments' "
                                "locations); try usdt top --json for what it can" % ", ".join("%s:%s" % k for k in skipped))
            store.add(snap, pair)
    finally:
        if server:
            server.stop()
    s.close()  # stop tracing before writing: the files are a record of what was
    data = store.data()
    if not data["columns"]:
        raise ViewError("no interval completed in %g s (bpftrace still attaching?)" % args.seconds)
    if args.svg:
        _write(args.svg, svg.render(data))
    if args.html:
        _write(args.html, page.render(data, live=False))
    return 0


def _write(path, text):
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise ViewError("%s: %s" % (path, e.strerror))
    sys.stderr.write("usdt heatmap: wrote %s\n" % path)
