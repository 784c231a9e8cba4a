"""Latency buckets: four per power of two (each 19 % wide at most), computed
by the bpftrace program itself (see program.BUCKET), so a bucket number
means the same here, in the page and in the SVG."""

SUB = 4  # buckets per power of two


def bucket_bounds(b):
    """[low, high) in nanoseconds of bucket b."""
    k, sub = divmod(int(b), SUB)
    if k < 2:  # below 4 ns only the power of two is kept
        return float(1 << k) if b else 0.0, float(2 << k)
    base = float(1 << k)
    return base * (1 + sub / SUB), base * (1 + (sub + 1) / SUB)


def bucket_of(ns):
    """The bucket a value falls in, as the bpftrace program computes it."""
    v = int(ns)
    if v <= 0:
        return 0
    k = v.bit_length() - 1
    sub = (v >> (k - 2)) & 3 if k >= 2 else 0
    return k * SUB + sub


def merge(into, buckets):
    for b, n in buckets.items():
        into[b] = into.get(b, 0) + n
    return into


def percentile(buckets, q, max_ns=None):
    """The q-th quantile (0..1) of a {bucket: count} histogram, interpolated
    linearly inside its bucket; never above the exact maximum when known."""
    total = sum(buckets.values())
    if not total:
        return None
    rank = q * total
    seen = 0
    for b in sorted(buckets):
        n = buckets[b]
        if seen + n >= rank:
            lo, hi = bucket_bounds(b)
            v = lo + (hi - lo) * ((rank - seen) / n if n else 0)
            return min(v, max_ns) if max_ns else v
        seen += n
    lo, hi = bucket_bounds(max(buckets))
    return min(hi, max_ns) if max_ns else hi


def fmt_ns(ns):
    """A duration for a column: 3 significant digits and a unit."""
    if ns is None:
        return "-"
    for unit, div in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= div:
            v = ns / div
            return ("%.3g" % v) + unit if v < 1000 else "%d%s" % (v, unit)
    return "%dns" % ns


def fmt_rate(r):
    if r is None:
        return "-"
    if r >= 100:
        return "%d" % round(r)
    return "%.1f" % r
