"""Flame graphs of folded stacks ({(frame, ...): weight}, a frame (name,
kind), root first; kind py, k (kernel) or mark): a static SVG (xml.etree,
as svg.py's heat map: escaping is the library's, a <title> on every frame
for hovering) and a self-contained HTML page (the tree as JSON, drawn as an
inline SVG by its own script, allowed by nonce as page.py's: click a frame
to zoom to it, a search box that highlights matches and says their share;
#search=TEXT and #zoom=NAME in its URL do the same).

Classic layout: the root (all) at the bottom, callees above their callers,
each frame as wide as its weight, children in name order (FlameGraph's)."""
import secrets
import xml.etree.ElementTree as ET
import zlib

from . import page
from .svg import _text

W = 1200
FH = 17            # frame height
MT, MB, ML = 56, 28, 10
MIN_PX = 0.1       # frames narrower than this are left out (with their callees)
CHAR_PX = 7.0      # about one character at 12 px, for labels that fit


class Node:
    __slots__ = ("name", "kind", "value", "children")

    def __init__(self, name, kind):
        self.name, self.kind, self.value, self.children = name, kind, 0, {}


def tree(stacks):
    """The call tree of folded stacks under one root `all`."""
    root = Node("all", "root")
    for frames, w in stacks.items():
        if w <= 0:
            continue
        root.value += w
        node = root
        for name, kind in frames:
            child = node.children.get((name, kind))
            if child is None:
                child = node.children[(name, kind)] = Node(name, kind)
            child.value += w
            node = child
    return root


def depth(node):
    """Levels under node, itself included (iterative: stacks run 4,000 deep)."""
    best, todo = 0, [(node, 1)]
    while todo:
        n, d = todo.pop()
        best = max(best, d)
        todo.extend((c, d + 1) for c in n.children.values())
    return best


def preorder(root):
    """(node, parent index, level) in drawing order: each node after its
    parent, children in name order."""
    out, todo = [], [(root, -1, 0)]
    while todo:
        n, parent, level = todo.pop()
        i = len(out)
        out.append((n, parent, level))
        todo.extend((n.children[k], i, level + 1) for k in sorted(n.children, reverse=True))
    return out


def color(name, kind):
    """FlameGraph's idea: a hue per kind, varied a little by the name so
    that neighbours differ, the same name always the same colour."""
    v = zlib.crc32(name.encode("utf-8", "replace")) / 0xFFFFFFFF
    if kind == "py":      # Python: greens to teal
        return "hsl(%d,55%%,%d%%)" % (95 + 60 * v, 52 + 10 * v)
    if kind == "k":       # kernel: oranges
        return "hsl(%d,85%%,%d%%)" % (18 + 20 * v, 55 + 8 * v)
    if kind == "mark":
        return "rgb(190,190,190)"
    return "rgb(225,225,225)"


def fmt_weight(w, unit):
    if unit == "ns":
        for u, d in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
            if w >= d:
                return "%.3g %s" % (w / d, u)
        return "%d ns" % w
    return "%d %s" % (w, unit if w != 1 else unit.rstrip("s"))


def label(node, total, unit):
    return "%s\n%s, %.2f %%" % (node.name, fmt_weight(node.value, unit), 100.0 * node.value / (total or 1))


def render_svg(stacks, title, unit="samples", subtitle=""):
    root = tree(stacks)
    total = root.value
    d = depth(root)
    h = MT + d * FH + MB
    pw = W - 2 * ML
    svg = ET.Element("svg", xmlns="http://www.w3.org/2000/svg", width=str(W), height=str(h),
                     viewBox="0 0 %d %d" % (W, h), attrib={"font-family": "Verdana, sans-serif"})
    ET.SubElement(svg, "title").text = "usdt flame: " + title
    ET.SubElement(svg, "rect", x="0", y="0", width=str(W), height=str(h), fill="#fbfbf6")
    _text(svg, W / 2, 22, title, "middle", size=15, attrib={"font-weight": "bold"})
    _text(svg, W / 2, 40, subtitle or ("%s in all" % fmt_weight(total, unit)), "middle", size=11,
          attrib={"fill": "#555"})
    # Legend: the kinds' colours.
    legend = ET.SubElement(svg, "g", id="legend")
    for i, (kind, what) in enumerate((("py", "Python"), ("k", "kernel"), ("mark", "marker"))):
        x = ML + i * 90
        ET.SubElement(legend, "rect", x=str(x), y="12", width="12", height="12", fill=color(what, kind))
        _text(legend, x + 16, 22, what, size=11)
    frames = ET.SubElement(svg, "g", id="frames")
    scale = pw / (total or 1)

    if total:
        todo = [(root, ML, 0)]
        while todo:
            node, x, level = todo.pop()
            wpx = node.value * scale
            if wpx < MIN_PX:
                continue  # and its callees, narrower still
            y = h - MB - (level + 1) * FH
            g = ET.SubElement(frames, "g", attrib={"class": "frame", "data-kind": node.kind,
                                                   "data-value": str(node.value)})
            ET.SubElement(g, "title").text = label(node, total, unit)
            ET.SubElement(g, "rect", x="%.2f" % x, y="%.1f" % y, width="%.2f" % wpx, height=str(FH - 1),
                          fill=color(node.name, node.kind), rx="2", ry="2")
            fit = int((wpx - 6) / CHAR_PX)
            if fit >= 3:
                text = node.name if len(node.name) <= fit else node.name[:fit - 2] + ".."
                _text(g, x + 3, y + FH - 5, text, size=12)
            cx, kids = x, []
            for key in sorted(node.children):
                child = node.children[key]
                kids.append((child, cx, level + 1))
                cx += child.value * scale
            todo.extend(reversed(kids))
    else:
        _text(svg, W / 2, h / 2, "no samples", "middle", size=14)
    if hasattr(ET, "indent"):
        ET.indent(svg)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(svg, encoding="unicode") + "\n"


def _json_nodes(root):
    """The tree as a flat list (JSON nests only so deep): [name, kind,
    value, parent index], parents first, children in name order."""
    return [[n.name, n.kind, n.value, parent] for n, parent, _ in preorder(root)]


def render_html(stacks, title, unit="samples", subtitle=""):
    root = tree(stacks)
    nonce = secrets.token_urlsafe(12)
    csp = "default-src 'none'; script-src 'nonce-%s'; style-src 'unsafe-inline'" % nonce
    data = {"title": title, "unit": unit, "subtitle": subtitle or "", "nodes": _json_nodes(root),
            "colors": {k: color(k, k) for k in ("py", "k", "mark", "root")}}
    return page.fill(TEMPLATE, csp, nonce, data, TITLE=title, SUB=subtitle or "")


TEMPLATE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="@CSP@">
<title>usdt flame: @TITLE@</title>
<style>
body { font: 13px system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 16px; margin: 0 0 4px; }
#bar { display: flex; gap: 12px; align-items: center; margin: 8px 0; }
#bar input { width: 260px; }
#status { color: #555; }
#graph text { font: 12px Verdana, sans-serif; pointer-events: none; }
#graph g.f { cursor: pointer; }
#graph g.f rect { stroke: #fff; stroke-width: 0.5; }
#graph g.f.match rect { fill: rgb(230,0,230) !important; }
#graph g.f.dim { opacity: 0.45; }
#detail { font-family: monospace; min-height: 1.3em; white-space: pre; }
.key { display: inline-block; width: 11px; height: 11px; margin: 0 3px 0 8px; vertical-align: -1px; }
</style></head>
<body>
<h1>@TITLE@</h1>
<div id="sub">@SUB@</div>
<div id="bar"><label>search <input id="q" type="search" placeholder="function, file or regex"></label>
<button id="reset" type="button">reset zoom</button><span id="status"></span>
<span id="legend"></span></div>
<div id="detail"></div>
<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="1200" height="100"></svg>
<script type="application/json" id="data">@DATA@</script>
<script nonce="@NONCE@">
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const W = 1200, FH = 17, MIN_PX = 0.1, CHAR_PX = 7;
const NS = "http://www.w3.org/2000/svg";
// Flat nodes [name, kind, value, parent], parents first: a tree with n.p, n.c, n.d (level).
const NODES = D.nodes.map(([n, k, v]) => ({ n: n, k: k, v: v, c: [], p: null, d: 0 }));
D.nodes.forEach(([, , , p], i) => { if (p >= 0) { NODES[i].p = NODES[p]; NODES[i].d = NODES[p].d + 1; NODES[p].c.push(NODES[i]); } });
const root = NODES[0];
const DEPTH = 1 + NODES.reduce((a, n) => Math.max(a, n.d), 0);
let focus = root, query = "";
function crc(s) { // the same colour family per kind, varied by name
  let h = 0; for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return h / 4294967295;
}
function color(n) {
  const v = crc(n.n);
  if (n.k === "py") return "hsl(" + (95 + 60 * v) + ",55%," + (52 + 10 * v) + "%)";
  if (n.k === "k") return "hsl(" + (18 + 20 * v) + ",85%," + (55 + 8 * v) + "%)";
  return n.k === "mark" ? "rgb(190,190,190)" : "rgb(225,225,225)";
}
function fmt(w) {
  if (D.unit === "ns") {
    for (const [u, d] of [["s", 1e9], ["ms", 1e6], ["us", 1e3]]) if (w >= d) return +(w / d).toPrecision(3) + " " + u;
    return w + " ns";
  }
  return w + " " + (w === 1 ? D.unit.replace(/s$/, "") : D.unit);
}
function pct(w) { return (100 * w / (root.v || 1)).toFixed(2) + " %"; }
function matcher() {
  if (!query) return null;
  try { const re = new RegExp(query, "i"); return s => re.test(s); }
  catch (e) { const q = query.toLowerCase(); return s => s.toLowerCase().includes(q); }
}
function draw() {
  const svg = document.getElementById("graph");
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const h = DEPTH * FH + 4;
  svg.setAttribute("height", h);
  const m = matcher();
  const ancestors = new Set();
  for (let a = focus; a; a = a.p) ancestors.add(a);
  const scale = W / (focus.v || 1);
  let matched = 0;
  function box(n, x, level, wpx) {
    const g = document.createElementNS(NS, "g"), y = h - (level + 1) * FH;
    g.setAttribute("class", "f");
    g.dataset.name = n.n; g.dataset.kind = n.k; g.dataset.value = n.v;
    const t = document.createElementNS(NS, "title");
    t.textContent = n.n + "\n" + fmt(n.v) + ", " + pct(n.v);
    g.appendChild(t);
    const r = document.createElementNS(NS, "rect");
    r.setAttribute("x", x.toFixed(2)); r.setAttribute("y", y); r.setAttribute("width", Math.max(wpx, 0.5).toFixed(2));
    r.setAttribute("height", FH - 1); r.setAttribute("fill", color(n)); r.setAttribute("rx", 2);
    g.appendChild(r);
    const fit = Math.floor((wpx - 6) / CHAR_PX);
    if (fit >= 3) {
      const s = document.createElementNS(NS, "text");
      s.setAttribute("x", x + 3); s.setAttribute("y", y + FH - 5);
      s.textContent = n.n.length <= fit ? n.n : n.n.slice(0, fit - 2) + "..";
      g.appendChild(s);
    }
    if (m && m(n.n)) g.classList.add("match");
    if (ancestors.has(n) && n !== focus) g.classList.add("dim");
    g.addEventListener("click", () => { focus = n; draw(); });
    g.addEventListener("mouseenter", () => { document.getElementById("detail").textContent = n.n + "  " + fmt(n.v) + ", " + pct(n.v); });
    svg.appendChild(g);
  }
  // The focus's ancestors full width under it, then the focus and its
  // callees (no recursion: stacks run thousands of frames deep).
  const chain = [];
  for (let a = focus.p; a; a = a.p) chain.unshift(a);
  chain.forEach((a, i) => box(a, 0, i, W));
  const todo = [[focus, 0]];
  while (todo.length) {
    const [n, x] = todo.pop(), wpx = n.v * scale;
    if (wpx < MIN_PX) continue;
    box(n, x, n.d, wpx);
    let cx = x;
    const kids = [];
    for (const c of n.c) { kids.push([c, cx]); cx += c.v * scale; }
    for (let i = kids.length - 1; i >= 0; i--) todo.push(kids[i]);
  }
  if (m) {
    // The share is of the whole, matches outside the zoomed part too; a
    // match under a match is counted once (parents come first in NODES).
    for (const n of NODES) {
      n.hit = m(n.n);
      n.under = n.p ? n.p.under || n.p.hit : false;
      if (n.hit && !n.under) matched += n.v;
    }
  }
  document.getElementById("status").textContent = (m ? "matched: " + pct(matched) + " (" + fmt(matched) + ")" : "") +
    (focus !== root ? "  zoomed to " + focus.n : "");
}
const legend = document.getElementById("legend");
for (const [k, what] of [["py", "Python"], ["k", "kernel"], ["mark", "marker"]]) {
  const s = document.createElement("span"); s.className = "key"; s.style.background = color({ n: what, k: k });
  legend.appendChild(s); legend.appendChild(document.createTextNode(what));
}
document.getElementById("q").addEventListener("input", e => { query = e.target.value; draw(); });
document.getElementById("reset").addEventListener("click", () => { focus = root; draw(); });
// In the URL: #search=TEXT starts with that search, #zoom=NAME zoomed to the
// heaviest frame of that name (both: #zoom=NAME&search=TEXT).
for (const part of location.hash.replace(/^#/, "").split("&")) {
  const i = part.indexOf("="), k = part.slice(0, i), v = decodeURIComponent(part.slice(i + 1));
  if (k === "search") { query = v; document.getElementById("q").value = v; }
  if (k === "zoom") {
    let best = null;
    for (const n of NODES) if (n.n === v && (!best || n.v > best.v)) best = n;
    if (best) focus = best;
  }
}
draw();
</script></body></html>
"""
