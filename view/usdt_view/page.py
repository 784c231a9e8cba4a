"""The heat map page: one HTML file, its script inline (no library, nothing
fetched from elsewhere: the Content-Security-Policy allows only its own
script, by nonce, and reads of its own server). Live, it polls
/TOKEN/data every second; a snapshot (--html) carries its data and polls
nothing. The numbers behind the picture are in a table under it; hovering a
cell shows its own (and #cell=COLUMN,BUCKET in the URL shows one cell's)."""
import html
import json
import secrets

CSP = "default-src 'none'"


def fill(template, csp, nonce, data, **text):
    """A page's template with @CSP@, @NONCE@, each @NAME@ of text (escaped)
    and, last, @DATA@: data as JSON no </script> inside can end early."""
    out = template.replace("@CSP@", html.escape(csp, quote=True)).replace("@NONCE@", nonce)
    for name, value in text.items():
        out = out.replace("@%s@" % name, html.escape(value))
    return out.replace("@DATA@", json.dumps(data).replace("</", "<\\/").replace("<!--", "<\\!--"))


def render(data, live):
    nonce = secrets.token_urlsafe(12)
    csp = "default-src 'none'; script-src 'nonce-%s'; style-src 'unsafe-inline'; connect-src 'self'" % nonce
    return fill(TEMPLATE, csp, nonce, data, TITLE=data.get("title", ""), LIVE="true" if live else "false")


TEMPLATE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="@CSP@">
<title>usdt heatmap: @TITLE@</title>
<style>
body { font: 13px system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 16px; margin: 0 0 8px; }
#wrap { display: flex; gap: 18px; align-items: flex-start; }
#side { min-width: 190px; }
#side .big { font-size: 22px; font-weight: 600; }
#tip { position: fixed; pointer-events: none; background: #222; color: #fff; padding: 4px 7px;
       border-radius: 3px; font-size: 12px; display: none; white-space: pre; }
table { border-collapse: collapse; margin-top: 12px; }
td, th { padding: 1px 8px; text-align: right; border-bottom: 1px solid #eee; }
#state { color: #777; }
</style></head>
<body>
<h1>Latency heat map: @TITLE@</h1>
<div id="wrap"><canvas id="map" width="960" height="420"></canvas>
<div id="side">
<div>calls/s (last second)</div><div class="big" id="rate">-</div>
<div>p50 / p99 (shown span)</div><div class="big" id="pct">-</div>
<div>max</div><div class="big" id="max">-</div>
<p>count per cell</p><canvas id="legend" width="180" height="40"></canvas>
<p id="state"></p>
</div></div>
<div id="tip"></div>
<table id="rows"><thead><tr><th>latency from</th><th>to</th><th>calls (shown span)</th></tr></thead><tbody></tbody></table>
<script type="application/json" id="data">@DATA@</script>
<script nonce="@NONCE@">
"use strict";
const LIVE = @LIVE@;
let D = JSON.parse(document.getElementById("data").textContent);
const SUB = 4, M = { l: 70, r: 10, t: 10, b: 40 };
const STOPS = [[255, 247, 204], [254, 196, 79], [236, 112, 20], [200, 40, 40], [90, 0, 40]];

function bounds(b) {
  const k = Math.floor(b / SUB), s = b % SUB;
  if (k < 2) return [b ? 2 ** k : 0, 2 ** (k + 1)];
  const base = 2 ** k;
  return [base * (1 + s / SUB), base * (1 + (s + 1) / SUB)];
}
function bucketOf(ns) {
  if (ns < 1) return 0;
  const k = Math.floor(Math.log2(ns));
  return k * SUB + (k >= 2 ? Math.floor(ns / 2 ** (k - 2)) & 3 : 0);
}
function fmt(ns) {
  if (ns === null || ns === undefined) return "-";
  for (const [u, d] of [["s", 1e9], ["ms", 1e6], ["us", 1e3]])
    if (ns >= d) return +(ns / d).toPrecision(3) + u;
  return Math.round(ns) + "ns";
}
function color(t) {
  const x = Math.max(0, Math.min(1, t)) * (STOPS.length - 1), i = Math.min(Math.floor(x), STOPS.length - 2), f = x - i;
  const c = STOPS[i].map((v, j) => Math.round(v + (STOPS[i + 1][j] - v) * f));
  return "rgb(" + c.join(",") + ")";
}
function pct(h, q) {
  const keys = Object.keys(h).map(Number).sort((a, b) => a - b);
  const total = keys.reduce((s, k) => s + h[k], 0);
  if (!total) return null;
  let seen = 0;
  for (const k of keys) {
    if (seen + h[k] >= q * total) { const [lo, hi] = bounds(k); return lo + (hi - lo) * (q * total - seen) / h[k]; }
    seen += h[k];
  }
  return null;
}
let layout = null;
function draw() {
  const cols = D.columns, cv = document.getElementById("map"), g = cv.getContext("2d");
  g.clearRect(0, 0, cv.width, cv.height);
  const total = {};
  let lo = Infinity, hi = -Infinity, maxn = 0, mx = null;
  for (const c of cols) {
    for (const [b, n] of Object.entries(c.buckets)) {
      const k = Number(b); lo = Math.min(lo, k); hi = Math.max(hi, k); maxn = Math.max(maxn, n);
      total[k] = (total[k] || 0) + n;
    }
    if (c.max_ns !== null && c.max_ns !== undefined) mx = Math.max(mx || 0, c.max_ns);
  }
  document.getElementById("state").textContent = (LIVE ? "live, " : "snapshot, ") + cols.length + " s shown";
  if (!isFinite(lo)) { lo = bucketOf(1e3); hi = bucketOf(1e7); }
  lo = Math.max(0, lo - 2); hi = hi + 2;
  const ncol = Math.max(cols.length, 60), nrow = hi - lo + 1;
  const pw = cv.width - M.l - M.r, ph = cv.height - M.t - M.b, cw = pw / ncol, rh = ph / nrow;
  layout = { lo, hi, cw, rh, ncol };
  g.fillStyle = "#fafafa"; g.fillRect(M.l, M.t, pw, ph);
  cols.forEach((c, i) => {
    for (const [b, n] of Object.entries(c.buckets)) {
      const k = Number(b);
      g.fillStyle = color(Math.log(1 + n) / Math.log(1 + maxn));
      g.fillRect(M.l + i * cw, M.t + (hi - k) * rh, Math.ceil(cw), Math.ceil(rh));
    }
  });
  g.fillStyle = "#333"; g.strokeStyle = "#999"; g.font = "11px sans-serif"; g.textAlign = "right";
  for (let v = 1; v <= 1e11; v *= 10) {
    const k = bucketOf(v);
    if (k < lo || k > hi) continue;
    const [bl, bh] = bounds(k), y = M.t + (hi - k + 1 - (v - bl) / (bh - bl)) * rh;
    g.fillText(fmt(v), M.l - 6, y + 4);
    g.beginPath(); g.moveTo(M.l - 3, y); g.lineTo(M.l, y); g.stroke();
  }
  g.textAlign = "center";
  cols.forEach((c, i) => {
    if (i % 10) return;
    const d = new Date(c.t * 1000);
    g.fillText(d.toTimeString().slice(0, 8), M.l + (i + 0.5) * cw, cv.height - M.b + 16);
  });
  g.fillText("time (one column a second)", M.l + pw / 2, cv.height - 6);
  g.save(); g.translate(12, M.t + ph / 2); g.rotate(-Math.PI / 2); g.fillText("latency", 0, 0); g.restore();
  const lg = document.getElementById("legend").getContext("2d");
  lg.clearRect(0, 0, 180, 40);
  for (let x = 0; x < 170; x++) { lg.fillStyle = color(x / 169); lg.fillRect(5 + x, 0, 1, 16); }
  lg.fillStyle = "#333"; lg.font = "11px sans-serif"; lg.textAlign = "left"; lg.fillText("1", 5, 30);
  lg.textAlign = "right"; lg.fillText(String(maxn || "-"), 175, 30);
  const last = cols[cols.length - 1];
  document.getElementById("rate").textContent = last ? (last.calls / (last.dt || 1)).toFixed(1) : "-";
  document.getElementById("pct").textContent = fmt(pct(total, 0.5)) + " / " + fmt(pct(total, 0.99));
  document.getElementById("max").textContent = fmt(mx);
  const tb = document.querySelector("#rows tbody");
  tb.textContent = "";
  Object.keys(total).map(Number).sort((a, b) => b - a).forEach(k => {
    const [l, h] = bounds(k), tr = document.createElement("tr");
    tr.dataset.bucket = k; tr.dataset.low = l; tr.dataset.high = h; tr.dataset.count = total[k];
    for (const t of [fmt(l), fmt(h), String(total[k])]) { const td = document.createElement("td"); td.textContent = t; tr.appendChild(td); }
    tb.appendChild(tr);
  });
}
document.getElementById("map").addEventListener("mousemove", ev => {
  const tip = document.getElementById("tip"), r = ev.target.getBoundingClientRect();
  const x = ev.clientX - r.left - M.l, y = ev.clientY - r.top - M.t;
  if (!layout || x < 0 || y < 0) { tip.style.display = "none"; return; }
  const i = Math.floor(x / layout.cw), k = layout.hi - Math.floor(y / layout.rh), c = D.columns[i];
  if (!c || k < layout.lo) { tip.style.display = "none"; return; }
  const [l, h] = bounds(k), n = c.buckets[String(k)] || 0;
  tip.textContent = new Date(c.t * 1000).toTimeString().slice(0, 8) + "\n" + fmt(l) + " - " + fmt(h) + ": " + n +
    " calls\ncolumn: " + c.calls + " calls, max " + fmt(c.max_ns);
  tip.style.left = (ev.clientX + 12) + "px"; tip.style.top = (ev.clientY + 12) + "px"; tip.style.display = "block";
});
document.getElementById("map").addEventListener("mouseleave", () => { document.getElementById("tip").style.display = "none"; });
draw();
// #cell=COLUMN,BUCKET in the URL points at one cell: its numbers show as if hovered.
const at = /^#cell=(\d+),(\d+)$/.exec(location.hash);
if (at && layout) {
  const cv = document.getElementById("map"), r = cv.getBoundingClientRect();
  cv.dispatchEvent(new MouseEvent("mousemove", { bubbles: true,
    clientX: r.left + M.l + (Number(at[1]) + 0.5) * layout.cw,
    clientY: r.top + M.t + (layout.hi - Number(at[2]) + 0.5) * layout.rh }));
}
if (LIVE) setInterval(() => {
  fetch("data", { cache: "no-store" }).then(r => r.ok ? r.json() : Promise.reject(r.status))
    .then(d => { D = d; draw(); })
    .catch(e => { document.getElementById("state").textContent = "server gone (" + e + ")"; });
}, 1000);
</script></body></html>
"""
