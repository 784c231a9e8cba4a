"""A self-contained SVG heat map (--svg): the same cells, colours and axes as
the page, built with xml.etree (escaping is the library's), a <title> on
every cell for hovering in a browser, and data-bucket / data-count on each
for scripts."""
import math
import time
import xml.etree.ElementTree as ET

from . import stats

STOPS = ((255, 247, 204), (254, 196, 79), (236, 112, 20), (200, 40, 40), (90, 0, 40))
W, H = 960, 460
ML, MR, MT, MB = 70, 210, 40, 40


def color(t):
    x = max(0.0, min(1.0, t)) * (len(STOPS) - 1)
    i = min(int(x), len(STOPS) - 2)
    f = x - i
    return "rgb(%d,%d,%d)" % tuple(round(a + (b - a) * f) for a, b in zip(STOPS[i], STOPS[i + 1]))


def _text(parent, x, y, s, anchor="start", size=11, attrib=None, **extra):
    a = {"text-anchor": anchor, "font-size": str(size)}
    a.update(attrib or {})
    e = ET.SubElement(parent, "text", x="%g" % x, y="%g" % y, attrib=a, **extra)
    e.text = s
    return e


def render(data):
    cols = data["columns"]
    total, maxn, mx = {}, 0, None
    for c in cols:
        for b, n in c["buckets"].items():
            total[int(b)] = total.get(int(b), 0) + n
            maxn = max(maxn, n)
        if c.get("max_ns") is not None:
            mx = c["max_ns"] if mx is None else max(mx, c["max_ns"])
    lo, hi = (min(total), max(total)) if total else (stats.bucket_of(1e3), stats.bucket_of(1e7))
    lo, hi = max(0, lo - 2), hi + 2
    ncol, nrow = max(len(cols), 10), hi - lo + 1
    pw, ph = W - ML - MR, H - MT - MB
    cw, rh = pw / ncol, ph / nrow
    root = ET.Element("svg", xmlns="http://www.w3.org/2000/svg", width=str(W), height=str(H),
                      viewBox="0 0 %d %d" % (W, H), attrib={"font-family": "sans-serif"})
    ET.SubElement(root, "title").text = "usdt heatmap: " + data.get("title", "")
    ET.SubElement(root, "rect", x="0", y="0", width=str(W), height=str(H), fill="white")
    _text(root, ML, 22, "Latency heat map: " + data.get("title", ""), size=14, attrib={"font-weight": "bold"})
    ET.SubElement(root, "rect", x=str(ML), y=str(MT), width="%g" % pw, height="%g" % ph, fill="#fafafa")
    cells = ET.SubElement(root, "g", id="cells")
    for i, c in enumerate(cols):
        when = time.strftime("%H:%M:%S", time.localtime(c["t"]))
        for b, n in sorted(c["buckets"].items(), key=lambda kv: int(kv[0])):
            b = int(b)
            lo_ns, hi_ns = stats.bucket_bounds(b)
            r = ET.SubElement(cells, "rect", x="%.2f" % (ML + i * cw), y="%.2f" % (MT + (hi - b) * rh),
                              width="%.2f" % cw, height="%.2f" % rh,
                              fill=color(math.log1p(n) / math.log1p(maxn)),
                              attrib={"data-bucket": str(b), "data-count": str(n), "data-column": str(i)})
            ET.SubElement(r, "title").text = "%s  %s - %s: %d calls" % (when, stats.fmt_ns(lo_ns), stats.fmt_ns(hi_ns), n)
    axes = ET.SubElement(root, "g", id="axes", fill="#333", stroke="none")
    v = 1
    while v <= 1e11:
        b = stats.bucket_of(v)
        if lo <= b <= hi:
            bl, bh = stats.bucket_bounds(b)
            y = MT + (hi - b + 1 - (v - bl) / (bh - bl)) * rh
            _text(axes, ML - 6, y + 4, stats.fmt_ns(v), "end")
            ET.SubElement(axes, "line", x1=str(ML - 3), x2=str(ML), y1="%g" % y, y2="%g" % y, stroke="#999")
        v *= 10
    for i, c in enumerate(cols):
        if i % 10 == 0:
            _text(axes, ML + (i + 0.5) * cw, H - MB + 16, time.strftime("%H:%M:%S", time.localtime(c["t"])), "middle")
    _text(axes, ML + pw / 2, H - 6, "time (one column a second)", "middle")
    _text(axes, 14, MT + ph / 2, "latency", "middle", transform="rotate(-90 14 %g)" % (MT + ph / 2))
    # Legend and the figures beside the map.
    side = ET.SubElement(root, "g", id="legend")
    x0 = W - MR + 20
    grad = ET.SubElement(ET.SubElement(root, "defs"), "linearGradient", id="ramp")
    for k in range(len(STOPS)):
        ET.SubElement(grad, "stop", offset="%g" % (k / (len(STOPS) - 1)), attrib={"stop-color": color(k / (len(STOPS) - 1))})
    _text(side, x0, MT + 10, "count per cell")
    ET.SubElement(side, "rect", x=str(x0), y=str(MT + 18), width="170", height="14", fill="url(#ramp)")
    _text(side, x0, MT + 46, "1")
    _text(side, x0 + 170, MT + 46, str(maxn), "end")
    calls = sum(total.values())
    span = sum(c.get("dt") or 1 for c in cols) or 1
    lines = ["calls/s: %s" % stats.fmt_rate(calls / span),
             "p50: %s" % stats.fmt_ns(stats.percentile(total, 0.5, mx)),
             "p99: %s" % stats.fmt_ns(stats.percentile(total, 0.99, mx)),
             "max: %s" % stats.fmt_ns(mx), "calls: %d in %d s" % (calls, len(cols))]
    for k, s in enumerate(lines):
        _text(side, x0, MT + 80 + 18 * k, s, size=12)
    if hasattr(ET, "indent"):  # 3.9+; on 3.8 the file is one long line, as valid
        ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
