"""The probes split over several bpftrace programs, each under libbpf's
limit on USDT attachments.

bpftrace 0.25+ attaches USDT probes through libbpf, which keeps at most
BPF_USDT_MAX_SPEC_CNT (256) argument specs per BPF object, and one bpftrace
program is one object. Measured with bpftrace 0.27.1: 256 probes attach,
257 fail with E2BIG, whether their argument specs differ or are all the
same: libbpf shares a spec only between the addresses of one probe with
the same spec string, never between probes. So a probe costs one spec per
address at most (Probe.sites), and a program holds at most 256 of them.
bpftrace 0.17 (through bcc) has no such limit; the split costs it only a
second bpftrace past 256 probes.

A pair's two probes stay in one program: its maps (@d, @t, @k) join the
entry and the return."""
from .errors import ViewError

LIMIT = 256


def _units(probes, pairs):
    """Groups of probes that must share a program (joined by pairs), in
    the order of their first probe."""
    group = {p.idx: {p.idx} for p in probes}
    for pr in pairs:
        a, b = group[pr.entry.idx], group[pr.ret.idx]
        if a is not b:
            a |= b
            for i in b:
                group[i] = a
    seen, out = set(), []
    for p in probes:
        g = group[p.idx]
        if id(g) not in seen:
            seen.add(id(g))
            out.append(sorted(g))
    return out


def split(probes, pairs, limit=LIMIT):
    """[(probes, pairs)], each program's share; its probes cost at most
    `limit` specs. Indices stay those of the whole set: the viewer merges
    the programs' maps by them."""
    by_idx = {p.idx: p for p in probes}
    chunks, cost = [[]], 0
    for unit in _units(probes, pairs):
        c = sum(by_idx[i].sites for i in unit)
        if c > limit:
            names = ", ".join(by_idx[i].full for i in unit)
            raise ViewError("%s: %d probe addresses, more than one bpftrace program can attach "
                            "(%d, libbpf's USDT spec limit); leave it out with --probe" % (names, c, limit))
        if cost + c > limit:
            chunks.append([])
            cost = 0
        chunks[-1] += unit
        cost += c
    out = []
    for chunk in chunks:
        members = set(chunk)
        out.append(([by_idx[i] for i in sorted(chunk)],
                    [pr for pr in pairs if pr.entry.idx in members]))
    return out
