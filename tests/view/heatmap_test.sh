#!/usr/bin/env bash
# heatmap_test.sh - `usdt heatmap` on the python runtime provider (Debian
# python3.11's static probes) of a workload whose functions take 1 ms (100/s) and 10 ms (10/s): the page,
# served on 127.0.0.1 only, refuses requests without its token (or with a
# foreign Host, or a POST); loaded in headless chromium it shows two bands,
# at the rows of 1 ms and 10 ms; the SVG is well-formed (xmllint) with the
# same bands; the static HTML snapshot renders them offline; a one-function
# filter leaves one band; the process is untraced afterwards. About 45 s.
T=heatmap_test.sh
source "$(dirname "$0")/common.sh"
need bpftrace heatmap_served_page || exit 0
need curl heatmap_served_page || exit 0

# Debian's python3.11: its own static python provider (function__entry in
# /usr/bin/python3.11, semaphores in the binary), made to fire by python -m usdt.
VIEW_PY=deb start_workload rt bash -c 'exec "$PY" -m usdt tests/view/workload.py --plain "$@"' _ ||
	{ fail workload_starts "$(cat "$tmp/rt.err")"; exit 0; }
W=$wl_pid

# Two bands from {bucket: count}: $1 a JSON file of that, $2 columns.
bands() {
	python3 - "$1" "$2" "$BUILD/libexec/usdt" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[3])
from usdt_view.stats import bucket_of
h = {int(k): v for k, v in json.load(open(sys.argv[1])).items()}
n = float(sys.argv[2])
band = lambda lo, hi: sum(v for b, v in h.items() if bucket_of(lo) <= b <= bucket_of(hi))
peak = lambda lo, hi: max([v for b, v in h.items() if bucket_of(lo) <= b <= bucket_of(hi)] or [0])
one, ten = band(0.9e6, 1.6e6), band(8.5e6, 16e6)
# Bands: each row's peak well above the rows between them. A loaded machine
# (CI running everything) smears a tail off the 1 ms band that thins out
# towards 10 ms, never a band of its own: every row between stays well below
# the 1 ms peak, and the rows just under 10 ms (4.5-7 ms) well below the
# 10 ms peak, whose 10 calls a second are fewer than that tail's first rows.
p1, p10 = peak(0.9e6, 1.6e6), peak(8.5e6, 16e6)
between, below10 = peak(2.2e6, 7e6), peak(4.5e6, 7e6)
bad = []
if one < 40 * n: bad.append("1 ms band %d calls in %g s" % (one, n))
if ten < 4 * n: bad.append("10 ms band %d calls in %g s" % (ten, n))
if below10 * 2 > p10 or between * 4 > p1:
    bad.append("a row between the bands has %d calls, %d just under 10 ms (peaks: 1 ms %d, "
               "10 ms %d)" % (between, below10, p1, p10))
print("; ".join(bad) or "ok")
PY
}

"$usdt" heatmap "$W" python:function --seconds 30 >"$tmp/hm.out" 2>"$tmp/hm.err" &
H=$!; pids+=($H)
url=
for _ in $(seq 100); do
	url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/[A-Za-z0-9_-]*/' "$tmp/hm.out")
	[ -n "$url" ] && break
	sleep 0.1
done
base=${url%/*/}
if ! need ss heatmap_listens_on_loopback_only; then :  # iproute2
elif listen=$(ss -ltnpH 2>/dev/null | grep "pid=$H,"); [ -n "$url" ] && [ -n "$listen" ] && ! grep -v ' 127\.0\.0\.1:' <<<"$listen" | grep -q .; then
	pass heatmap_listens_on_loopback_only
else fail heatmap_listens_on_loopback_only "url=$url listen=$listen $(cat "$tmp/hm.err")"; fi

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
c1=$(code "$base/"); c2=$(code "$base/wrongtoken/"); c3=$(code "$base/wrongtoken/data")
c4=$(code -H 'Host: attacker.example:80' "$url"); c5=$(code -X POST --data 'BEGIN{}' "${url}data")
c6=$(code "${url}data")
if [ "$c1$c2$c3$c4" = 403403403403 ] && [[ $c5 != 2* ]] && [ "$c6" = 200 ]; then
	pass heatmap_refuses_requests_without_token
else fail heatmap_refuses_requests_without_token "no token $c1, wrong $c2/$c3, foreign Host $c4, POST $c5, token $c6"; fi

# Let a few seconds of columns gather, then load the page in a real browser.
for _ in $(seq 150); do
	n=$(curl -s "${url}data" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["columns"]))' 2>/dev/null)
	[ "${n:-0}" -ge 6 ] && break
	sleep 0.2
done
browser() { # chromium ARGS... (the flags the project uses everywhere)
	rm -rf "$tmp/chr"
	timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$tmp/chr" "$@" 2>/dev/null
}
page_bands() { # DOM file -> {bucket: count} JSON file $2 and the columns shown
	python3 - "$1" "$2" <<'PY'
import json, re, sys
dom = open(sys.argv[1]).read()
rows = re.findall(r'<tr data-bucket="(\d+)" data-low="[^"]*" data-high="[^"]*" data-count="(\d+)"', dom)
json.dump({b: int(c) for b, c in rows}, open(sys.argv[2], "w"))
m = re.search(r'(?:live|snapshot), (\d+) s shown', dom)
print(m.group(1) if m else 0)
PY
}
if need chromium heatmap_page_in_chromium_shows_two_bands; then
	browser --virtual-time-budget=2500 --dump-dom "$url" >"$tmp/page.html"
	cols=$(page_bands "$tmp/page.html" "$tmp/page.json")
	out=$(bands "$tmp/page.json" "$cols" 2>&1)
	if [ "$out" = ok ] && [ "$cols" -ge 5 ] && grep -q 'live, ' "$tmp/page.html"; then
		pass "heatmap_page_in_chromium_shows_two_bands ($cols s)"
	else fail heatmap_page_in_chromium_shows_two_bands "columns $cols: $out $(head -c 300 "$tmp/page.json")"; fi
fi
kill -INT $H 2>/dev/null
wait $H; rc=$?
why=$(untraced "$W")
if [ $rc -eq 0 ] && [ -z "$why" ]; then pass heatmap_server_stops_on_ctrl_c_untraced
else fail heatmap_server_stops_on_ctrl_c_untraced "rc=$rc $why $(cat "$tmp/hm.err")"; fi

# The SVG and the static snapshot of 5 s.
"$usdt" heatmap "$W" python:function --seconds 5 --svg "$tmp/hm.svg" --html "$tmp/snap.html" 2>"$tmp/svg.err"; rc=$?
svgcols=$(python3 - "$tmp/hm.svg" "$tmp/svg.json" <<'PY' 2>&1
import json, re, sys
s = open(sys.argv[1]).read()
h, cols = {}, set()
for b, c, col in re.findall(r'data-bucket="(\d+)" data-count="(\d+)" data-column="(\d+)"', s):
    h[b] = h.get(b, 0) + int(c); cols.add(col)
json.dump(h, open(sys.argv[2], "w"))
print(len(cols))
PY
)
if ! need xmllint heatmap_svg_well_formed_with_two_bands; then :
elif [ $rc -eq 0 ] && xmllint --noout "$tmp/hm.svg" 2>"$tmp/xmllint.err" &&
	out=$(bands "$tmp/svg.json" "$svgcols") && [ "$out" = ok ]; then
	pass "heatmap_svg_well_formed_with_two_bands ($svgcols s)"
else fail heatmap_svg_well_formed_with_two_bands "rc=$rc ${out:-} $(cat "$tmp/svg.err" "$tmp/xmllint.err")"; fi
if need chromium heatmap_static_snapshot_renders_offline; then
	browser --dump-dom "file://$tmp/snap.html" >"$tmp/snap.dom"
	cols=$(page_bands "$tmp/snap.dom" "$tmp/snap.json")
	out=$(bands "$tmp/snap.json" "$cols" 2>&1)
	if [ "$out" = ok ] && grep -q 'snapshot, ' "$tmp/snap.dom"; then pass heatmap_static_snapshot_renders_offline
	else fail heatmap_static_snapshot_renders_offline "columns $cols: $out"; fi
	# Hover: the busiest cell of the 1 ms band, pointed at; its tooltip gives its numbers.
	read -r col bucket count want < <(python3 - "$tmp/snap.html" "$BUILD/libexec/usdt" <<'PY'
import json, re, sys
sys.path.insert(0, sys.argv[2])
from usdt_view.stats import bucket_of, bucket_bounds, fmt_ns
data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', open(sys.argv[1]).read(), re.S).group(1))
best = max(((n, i, int(b)) for i, c in enumerate(data["columns"]) for b, n in c["buckets"].items()
            if bucket_of(0.9e6) <= int(b) <= bucket_of(1.6e6)), default=(0, 0, 0))
lo, hi = bucket_bounds(best[2])
print(best[1], best[2], best[0], "%s - %s: %d calls" % (fmt_ns(lo), fmt_ns(hi), best[0]))
PY
)
	browser --dump-dom "file://$tmp/snap.html#cell=$col,$bucket" >"$tmp/hover.dom"
	tip=$(python3 -c 'import re,sys; m = re.search(r"<div id=\"tip\"[^>]*>([^<]*)", open(sys.argv[1]).read()); print(m.group(1) if m else "")' "$tmp/hover.dom" | tr '\n' ' ')
	if [ "${count:-0}" -gt 0 ] && grep -qF "$want" <<<"$tip" && grep -q 'display: block' "$tmp/hover.dom"; then
		pass "heatmap_hover_shows_the_cell_numbers ($want)"
	else fail heatmap_hover_shows_the_cell_numbers "want '$want' at $col,$bucket, tooltip '$tip'"; fi
fi

# One function of the runtime provider: its band alone.
"$usdt" heatmap "$W" python:function:ten_ms --seconds 4 --svg "$tmp/ten.svg" 2>"$tmp/ten.err"; rc=$?
out=$(python3 - "$tmp/ten.svg" "$BUILD/libexec/usdt" <<'PY' 2>&1
import re, sys
sys.path.insert(0, sys.argv[2])
from usdt_view.stats import bucket_of
h = {}
for b, c in re.findall(r'data-bucket="(\d+)" data-count="(\d+)"', open(sys.argv[1]).read()):
    h[int(b)] = h.get(int(b), 0) + int(c)
total = sum(h.values())
ten = sum(v for b, v in h.items() if bucket_of(8.5e6) <= b <= bucket_of(16e6))
print("ok" if total and ten >= 0.9 * total else "ten_ms band %d of %d: %s" % (ten, total, h))
PY
)
if [ $rc -eq 0 ] && [ "$out" = ok ]; then pass heatmap_one_function_one_band
else fail heatmap_one_function_one_band "rc=$rc $out $(cat "$tmp/ten.err")"; fi
why=$(untraced "$W") && pass heatmap_leaves_process_untraced || fail heatmap_leaves_process_untraced "$why"

"$usdt" heatmap "$W" python:function --svg "$tmp/x.svg" >/dev/null 2>"$tmp/e"; rc=$?
if [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/e")" = 1 ] && [ ! -e "$tmp/x.svg" ]; then pass heatmap_file_without_seconds_is_usage_error
else fail heatmap_file_without_seconds_is_usage_error "rc=$rc $(cat "$tmp/e")"; fi
