#!/usr/bin/env bash
# flame_render_test.sh - the flame graph renderers and the folded format on
# stacks made up here, no tracer: names that need escaping (<, &, quotes, ;,
# non-ASCII) survive folding and unfolding and come out escaped in valid SVG
# (xmllint); every frame is as wide as its weight; kernel, Python and marker
# frames are coloured by kind; the HTML page in headless chromium draws the
# same frames, zooms (#zoom=) and searches (#search=) with the right share.
# A stack 4,200 frames deep in both. And `usdt --help`, `usdt stacks
# --help`, `usdt flame --help`. About 5 s.
T=flame_render_test.sh
source "$(dirname "$0")/common.sh"

python3 - "$BUILD/libexec/usdt" "$tmp" <<'PY' >"$tmp/gen.out" 2>&1
import sys
sys.path.insert(0, sys.argv[1])
from usdt_view import flame, stacks
tmp = sys.argv[2]
P = lambda n: (n, "py")
K = lambda n: (n, "k")
S = {
    (P("main (/app/a<b>&c.py:1)"), P("work (/app/x.py:10)"), P("inner;semi (/app/x.py:20)")): 300,
    (P("main (/app/a<b>&c.py:1)"), P("work (/app/x.py:10)"), K("entry_SYSCALL_64"), K("ksys_read")): 100,
    (P("main (/app/a<b>&c.py:1)"), P("quote\"'é (/app/ü.py:3)")): 50,
    (("[truncated]", "mark"), P("deep (/app/d.py:5)")): 25,
    (("[no Python state]", "mark"), K("worker_thread")): 25,
}
text = stacks.folded_lines(S)
open(tmp + "/s.folded", "w").write(text)
back = stacks.parse_folded(text)
want = {tuple((n.replace(";", ","), k) for n, k in fr): w for fr, w in S.items()}
print("roundtrip", "ok" if back == want else "differs: %s" % (set(back.items()) ^ set(want.items())))
print("ksuffix", "ok" if "entry_SYSCALL_64_[k];ksys_read_[k] 100" in text and text.count("\n") == 5 else text)
open(tmp + "/s.svg", "w").write(flame.render_svg(back, "made-up <stacks>", "samples"))
open(tmp + "/s.html", "w").write(flame.render_html(back, "made-up <stacks>", "samples"))
open(tmp + "/t.svg", "w").write(flame.render_svg({(P("sleep (/a.py:1)"), K("schedule")): 1500000000}, "t", "ns"))
# 4,200 frames deep (--max-frames goes to 4,096, and the kernel's on top).
D = {tuple(P("f%d (/d.py:%d)" % (i, i)) for i in range(4200)): 10, (P("x (/d.py:1)"),): 5}
open(tmp + "/deep.svg", "w").write(flame.render_svg(D, "deep", "samples"))
open(tmp + "/deep.html", "w").write(flame.render_html(D, "deep", "samples"))
PY
grep -q '^roundtrip ok$' "$tmp/gen.out" && grep -q '^ksuffix ok$' "$tmp/gen.out" && pass folded_roundtrip_escapes_semicolons ||
	fail folded_roundtrip_escapes_semicolons "$(cat "$tmp/gen.out")"

if need xmllint flame_svg_escaped_proportional_colored; then
	out=$(python3 - "$tmp/s.svg" "$tmp/t.svg" <<'PY' 2>&1
import sys
import xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
frames = ET.parse(sys.argv[1]).getroot().findall(".//s:g[@class='frame']", ns)
got = {}
for g in frames:
    name, share = g.find("s:title", ns).text.split("\n")
    got[name] = (int(g.get("data-value")), float(g.find("s:rect", ns).get("width")), g.get("data-kind"),
                 g.find("s:rect", ns).get("fill"), share)
bad = []
want = {"all": 500, "main (/app/a<b>&c.py:1)": 450, "work (/app/x.py:10)": 400, "inner,semi (/app/x.py:20)": 300,
        "quote\"'é (/app/ü.py:3)": 50, "[truncated]": 25, "[no Python state]": 25, "ksys_read": 100}
for n, v in want.items():
    if n not in got or got[n][0] != v:
        bad.append("%s: %s" % (n, got.get(n)))
    elif abs(got[n][1] - 1180.0 * v / 500) > 0.01:
        bad.append("%s width %s for %d of 500" % (n, got[n][1], v))
if not bad:
    if got["ksys_read"][3] == got["work (/app/x.py:10)"][3] or got["[truncated]"][2] != "mark" or got["ksys_read"][2] != "k":
        bad.append("kinds/colours %s" % {n: got[n][2:4] for n in ("ksys_read", "work (/app/x.py:10)", "[truncated]")})
    if got["work (/app/x.py:10)"][4] != "400 samples, 80.00 %":
        bad.append("title %r" % got["work (/app/x.py:10)"][4])
t = ET.parse(sys.argv[2]).getroot().findall(".//s:g[@class='frame']/s:title", ns)
if not any(x.text == "sleep (/a.py:1)\n1.5 s, 100.00 %" for x in t):
    bad.append("time title: %s" % [x.text for x in t])
print("; ".join(bad) or "ok")
PY
)
	raw=$(grep -c 'a&lt;b&gt;&amp;c' "$tmp/s.svg")
	deep=$(grep -c '<g class="frame"' "$tmp/deep.svg")
	if xmllint --noout "$tmp/s.svg" "$tmp/t.svg" "$tmp/deep.svg" 2>"$tmp/xl.err" && [ "$out" = ok ] && [ "$raw" -ge 1 ] &&
		[ "$deep" = 4202 ]; then pass flame_svg_escaped_proportional_colored_4200_deep
	else fail flame_svg_escaped_proportional_colored_4200_deep "$out escaped=$raw deep frames=$deep $(cat "$tmp/xl.err")"; fi
fi

if need chromium flame_html_draws_zooms_and_searches; then
	dom() { # URL-hash -> DOM in $tmp/d.html
		rm -rf "$tmp/chr"
		timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
			--disable-background-networking --disable-component-update --disable-sync \
			--user-data-dir="$tmp/chr" --virtual-time-budget=1000 --dump-dom "file://$tmp/s.html$1" 2>/dev/null >"$tmp/d.html"
	}
	dom "#search=inner"
	cp "$tmp/d.html" "$tmp/search.html"
	dom "#zoom=work%20(%2Fapp%2Fx.py%3A10)&search=ksys"
	out=$(python3 - "$tmp/search.html" "$tmp/d.html" <<'PY' 2>&1
import html, re, sys
def frames(path):
    dom = open(path).read()
    out = {}
    for cls, name, x, w in re.findall(r'<g class="(f[^"]*)" data-name="([^"]*)"[^>]*><title>[^<]*</title><rect x="([0-9.]+)" y="[0-9.]+" width="([0-9.]+)"', dom):
        out[html.unescape(name)] = (cls, float(x), float(w))
    st = re.search(r'id="status">([^<]*)<', dom)
    return out, st.group(1) if st else None
bad = []
s, st = frames(sys.argv[1])
if len(s) != 11 or s.get("inner,semi (/app/x.py:20)", ("",))[0] != "f match" or st != "matched: 60.00 % (300 samples)":
    bad.append("search: %d frames, status %r, inner %s" % (len(s), st, s.get("inner,semi (/app/x.py:20)")))
z, st = frames(sys.argv[2])
w = z.get("work (/app/x.py:10)")
k = z.get("ksys_read")
if not w or w[2] != 1200 or not k or abs(k[2] - 300) > 0.01 or "quote\"'é (/app/ü.py:3)" in z or \
        "zoomed to work" not in (st or "") or "matched: 20.00 %" not in st or k[0] != "f match":
    bad.append("zoom: work %s ksys_read %s status %r frames %s" % (w, k, st, sorted(z)))
print("; ".join(bad) or "ok")
PY
)
	if [ "$out" = ok ]; then pass flame_html_draws_zooms_and_searches
	else fail flame_html_draws_zooms_and_searches "$out"; fi
	rm -rf "$tmp/chr"
	timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$tmp/chr" --virtual-time-budget=3000 --dump-dom "file://$tmp/deep.html#search=%5Ef4199%20" 2>/dev/null >"$tmp/deep.dom"
	n=$(grep -o '<g class="f[^"]*" data-name' "$tmp/deep.dom" | wc -l)
	st=$(grep -o 'id="status">[^<]*' "$tmp/deep.dom")
	if [ "$n" = 4202 ] && [ "$st" = 'id="status">matched: 66.67 % (10 samples)' ]; then pass flame_html_4200_deep
	else fail flame_html_4200_deep "frames $n, $st"; fi
fi

# The C usdt dispatches both commands to the viewer, and its help names them.
"$usdt" stacks --help >"$tmp/h.stacks" 2>&1; r1=$?
"$usdt" flame --help >"$tmp/h.flame" 2>&1; r2=$?
"$usdt" --help >"$tmp/h" 2>&1; r3=$?
if [ $r1$r2$r3 = 000 ] && grep -q '^usage: usdt stacks' "$tmp/h.stacks" && grep -q -- '--print-program' "$tmp/h.stacks" &&
	grep -q '^usage: usdt flame' "$tmp/h.flame" && grep -q -- '--svg FILE' "$tmp/h.flame" &&
	grep -q 'usdt stacks PID --event EVENT' "$tmp/h" && grep -q 'usdt flame PID' "$tmp/h"; then
	pass usdt_help_names_stacks_and_flame
else fail usdt_help_names_stacks_and_flame "rc=$r1/$r2/$r3 $(head -c 300 "$tmp/h.stacks" "$tmp/h")"; fi
