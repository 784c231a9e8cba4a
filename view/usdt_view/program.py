"""The bpftrace program for a set of probes and pairs. Built here and only
here, from the probe list the process itself reports: neither the terminal
nor the page can hand bpftrace a program.

Maps (all keyed by small integers or pointers, so their number is fixed
whatever the number of probes, and keys stay small):
  @c[probe]                 fires in the interval
  @d[pair, tid]             call depth of a thread in a pair (nesting)
  @t[pair, tid, depth]      start time of the call at that depth
  @l[pair, bucket]          latencies of a named pair, in log buckets
  @m[pair]                  the longest one
  @k[pair, key]             start time of a keyed pair's open call (node's
                            HTTP request/response, matched by connection)
  @fl[pair, file, func, bucket], @fm[pair, file, func], @fn[pair, file, func]
                            the same per function of a runtime provider, keyed
                            by the addresses of its file and function name
                            (the strings of a code object, stable while it
                            lives; the viewer reads them from the process) and
                            @fn the function's first line, from its entry
Every interval prints them, clears them and prints "T <nsecs>"."""
from .discover import RUNTIME_PROVIDERS
from .stats import SUB

# Bucket of $v (ns): k = floor(log2 v) by halving search, then the next two
# bits below the top one: SUB=4 buckets per power of two.
BUCKET = """\
	$x{i} = $v{i}; $k{i} = (uint64)0;
	if ($x{i} >= 0x100000000) {{ $k{i} += 32; $x{i} >>= 32; }}
	if ($x{i} >= 0x10000) {{ $k{i} += 16; $x{i} >>= 16; }}
	if ($x{i} >= 0x100) {{ $k{i} += 8; $x{i} >>= 8; }}
	if ($x{i} >= 0x10) {{ $k{i} += 4; $x{i} >>= 4; }}
	if ($x{i} >= 0x4) {{ $k{i} += 2; $x{i} >>= 2; }}
	if ($x{i} >= 0x2) {{ $k{i} += 1; }}
	$b{i} = $k{i} * {sub} + ($k{i} >= 2 ? ($v{i} >> ($k{i} - 2)) & 3 : 0);
"""
assert SUB == 4


def _c_string(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def build(probes, pairs, interval_ms=1000, pid=None):
    """The program text. probes: discover.Probe (each counted); pairs:
    discover.Pair whose entry/ret are among probes; pid: the process, whose
    root the probes' paths are taken in (discover.Probe.spec)."""
    actions = {p.idx: ["\t@c[%d] = count();" % p.idx] for p in probes}
    maps = {"@c"}
    for j, pr in enumerate(pairs):
        i = pr.idx
        if pr.key:
            # Matched by an argument (a connection), not by thread and depth.
            ke, kr = pr.key
            actions[pr.entry.idx].append("\t@k[%d, arg%d] = nsecs;" % (i, ke))
            actions[pr.ret.idx] += [
                "\t$s%d = @k[%d, arg%d];" % (i, i, kr),
                "\tif ($s%d > 0) {" % i,
                "\tdelete(@k[%d, arg%d]);" % (i, kr),
                "\t$v%d = nsecs - $s%d;" % (i, i),
                BUCKET.format(i=i, sub=SUB).rstrip("\n"),
                "\t@l[%d, $b%d] = count(); @m[%d] = max($v%d);" % (i, i, i, i),
                "\t}"]
            maps |= {"@k", "@l", "@m"}
            continue
        e = ["\t$d%d = @d[%d, tid] + 1; @d[%d, tid] = $d%d; @t[%d, tid, $d%d] = nsecs;" % (i, i, i, i, i, i)]
        if pr.func and len(pr.entry.types) >= 3:
            e.append("\t@fn[%d, arg0, arg1] = arg2;" % i)
        actions[pr.entry.idx] += e
        r = ["\t$d%d = @d[%d, tid];" % (i, i),
             "\tif ($d%d > 0) {" % i,
             "\t$s%d = @t[%d, tid, $d%d]; delete(@t[%d, tid, $d%d]);" % (i, i, i, i, i),
             "\tif ($d%d == 1) { delete(@d[%d, tid]); } else { @d[%d, tid] = $d%d - 1; }" % (i, i, i, i),
             "\t$v%d = nsecs - $s%d;" % (i, i),
             BUCKET.format(i=i, sub=SUB).rstrip("\n")]
        if pr.func:
            # The function's name: arg1 in CPython's order, arg0 in a .d's like vm.d.
            name_arg = 1 if pr.provider in RUNTIME_PROVIDERS else 0
            cond = ("str(arg%d) == %s" % (name_arg, _c_string(pr.only))) if pr.only else "1"
            r += ["\tif (%s) {" % cond,
                  "\t@fl[%d, arg0, arg1, $b%d] = count(); @fm[%d, arg0, arg1] = max($v%d);" % (i, i, i, i),
                  "\t}"]
            maps |= {"@fl", "@fm", "@fn"}
        else:
            r.append("\t@l[%d, $b%d] = count(); @m[%d] = max($v%d);" % (i, i, i, i))
            maps |= {"@l", "@m"}
        r.append("\t}")
        actions[pr.ret.idx] += r
        maps |= {"@d", "@t"}
    out = ['BEGIN { printf("B %lld\\n", nsecs); }']
    for p in probes:
        out.append("%s {\n%s\n}" % (p.spec(pid), "\n".join(actions[p.idx])))
    shown = [m for m in ("@c", "@l", "@m", "@fl", "@fm", "@fn") if m in maps]
    out.append("interval:ms:%d {\n\t%s\n\t%s\n\tprintf(\"T %%lld\\n\", nsecs);\n}"
               % (interval_ms, " ".join("print(%s);" % m for m in shown),
                  " ".join("clear(%s);" % m for m in shown)))
    # Nothing printed at exit: the viewer has stopped reading.
    out.append("END {\n\t%s\n}" % " ".join("clear(%s);" % m for m in sorted(maps)))
    return "\n".join(out) + "\n"
