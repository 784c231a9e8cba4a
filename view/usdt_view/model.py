"""Rows from snapshots: rates from the last interval, latency percentiles
from the buckets of the last `window` seconds (a 10-calls-a-second function
has no p99 in one second)."""
import collections
import os
import re

from . import stats
from .discover import RUNTIME_PROVIDERS


class Model:
    def __init__(self, pid, probes, pairs, names, strings, window=5.0):
        self.pid, self.probes, self.pairs, self.names = pid, probes, pairs, names
        self.strings, self.window = strings, window
        self.history = collections.deque()
        self.paired = {p.entry.idx for p in pairs} | {p.ret.idx for p in pairs}
        self.flines = {}  # (pair, file, func) -> first line, kept across intervals
        self.last = None

    def add(self, snap):
        self.last = snap
        self.history.append(snap)
        span = 0.0
        for s in reversed(self.history):
            span += s.dt
        while len(self.history) > 1 and span - self.history[0].dt >= self.window:
            span -= self.history.popleft().dt
        self.flines.update(snap.fline)

    def rows(self):
        snap = self.last
        if snap is None:
            return []
        dt = snap.dt or 1.0
        rows = []
        for p in self.probes:
            if p.idx in self.paired:
                continue
            rows.append({"name": self.names[id(p)], "kind": "probe", "provider": p.provider,
                         "probe": p.name, "rate": snap.counts.get(p.idx, 0) / dt})
        for pr in self.pairs:
            row = {"name": self.names[id(pr)], "kind": "pair", "provider": pr.provider,
                   "entry": pr.entry.name, "return": pr.ret.name,
                   "rate": snap.counts.get(pr.entry.idx, 0) / dt}
            if pr.func:
                # The provider's total; its functions have rows of their own.
                row["kind"] = "functions"
                rows.append(row)
                rows += self._func_rows(pr, dt)
                continue
            buckets, mx = {}, None
            for s in self.history:
                stats.merge(buckets, s.lat.get(pr.idx, {}))
                m = s.max.get(pr.idx)
                if m is not None:
                    mx = m if mx is None else max(mx, m)
            row["calls"] = sum(snap.lat.get(pr.idx, {}).values()) / dt
            row.update(self._lat(buckets, mx))
            rows.append(row)
        return rows

    def _lat(self, buckets, mx):
        return {"p50_ns": stats.percentile(buckets, 0.5, mx), "p99_ns": stats.percentile(buckets, 0.99, mx),
                "max_ns": mx, "samples": sum(buckets.values()), "window_s": round(self.span(), 3)}

    @staticmethod
    def _name_file(pr, a0, a1):
        return _name_file_of(pr.provider, a0, a1)

    def span(self):
        return sum(s.dt for s in self.history)

    def _func_rows(self, pr, dt):
        keys = set()
        for s in self.history:
            keys.update(k for k in s.flat if k[0] == pr.idx)
        rows = []
        for k in keys:
            buckets, mx = {}, None
            for s in self.history:
                stats.merge(buckets, s.flat.get(k, {}))
                m = s.fmax.get(k)
                if m is not None:
                    mx = m if mx is None else max(mx, m)
            _, a0, a1 = k
            func, path = self._name_file(pr, self.strings.get(a0), self.strings.get(a1))
            line = self.flines.get(k)
            where = "%s:%s" % (os.path.basename(path), line if line is not None else "?")
            row = {"name": "%s:%s %s" % (pr.provider, func, where), "kind": "function",
                   "provider": pr.provider, "function": func, "file": path, "line": line,
                   "calls": sum(self.last.flat.get(k, {}).values()) / dt}
            row["rate"] = row["calls"]
            row.update(self._lat(buckets, mx))
            rows.append(row)
        return rows


def _looks_like_file(s):
    """A path, a name with a short extension (app.fs, x.py) or CPython's
    <string> / <frozen x>; not a dotted name such as Cls.method."""
    return "/" in s or s.startswith("<") or re.search(r"\.[A-Za-z0-9]{1,4}$", s) is not None


def _name_file_of(provider, a0, a1):
    """(function, file) from a function probe's two strings: CPython's
    order for the runtime providers, else the one that looks like a path is
    the file (providers/vm.d: name first)."""
    if provider in RUNTIME_PROVIDERS:
        return a1, a0
    if _looks_like_file(a0) and not _looks_like_file(a1):
        return a1, a0
    return a0, a1


SORT_KEYS = ("rate", "p50", "p99", "max", "name")


def sort_rows(rows, key):
    if key == "name":
        return sorted(rows, key=lambda r: r["name"])
    field = {"rate": "rate", "p50": "p50_ns", "p99": "p99_ns", "max": "max_ns"}[key]
    return sorted(rows, key=lambda r: (-(r.get(field) or 0), r["name"]))


def filter_rows(rows, min_rate):
    if not min_rate:
        return rows
    return [r for r in rows if (r.get("rate") or 0) >= min_rate]
