"""The probes of a process, read with `usdt list --json PID` (the C tool that
walks its mappings, memfd images included), and what usdt top shows of them:
single probes, pairs matched by name, and the function pairs of runtime
providers (one row per function)."""
import fnmatch
import json
import os
import shutil
import subprocess

from .errors import ViewError

# (entry suffix, return suffix), tried in order; @fbt's NAME__entry/NAME__return
# is the first.
PAIR_SUFFIXES = (("__entry", "__return"), ("__start", "__done"), ("-start", "-done"))

# function__entry/function__return (and cfunction__*) with two strings
# first (file and function, in either order: CPython's provider has
# (filename, funcname, lineno), a runtime's .d such as providers/vm.d
# (name, file, line)) and the line third: one row per function instead of
# one per probe pair, in any provider. Which string is the file is known for
# the runtimes below and told by its look (a path) elsewhere.
FUNC_PAIRS = (("function__entry", "function__return"), ("cfunction__entry", "cfunction__return"))
RUNTIME_PROVIDERS = ("python", "node")


def is_func_pair(types):
    return len(types) >= 2 and types[0] == "ptr" and types[1] == "ptr"

# Pairs that do not nest on a thread: node's HTTP request and response are
# events of an event loop, many requests open at once on one thread; each is
# matched by its connection (argument numbers: in the request, in the
# response), as node's provider declares them.
KEYED_PAIRS = {
    "node": (("http__server__request", "http__server__response", 1, 0, "http__server"),
             ("http__client__request", "http__client__response", 1, 0, "http__client")),
}

# Probes left out unless a --probe glob names them: tracing them makes the
# runtime call a hook on every line of code, a slowdown of several times.
COSTLY = {("python", "line"), ("node", "line")}
# Also left out: python:stack__layout, the interpreter's layout for stack
# walkers (usdt stacks): traced, it fires ten times a second and says
# nothing about the program.
NOT_BY_DEFAULT = COSTLY | {("python", "stack__layout")}


class Probe:
    def __init__(self, idx, provider, name, path, types):
        self.idx, self.provider, self.name, self.path, self.types = idx, provider, name, path, types
        self.sites = 1  # addresses: bpftrace attaches a uprobe to each

    @property
    def full(self):
        return "%s:%s" % (self.provider, self.name)

    def spec(self, pid=None):
        """The probe as bpftrace names it. With pid: an image by its path in
        the process's own root, /proc/PID/root/PATH, which bpftrace 0.25+
        attaches once under -p, where it attaches an explicit PATH twice
        (every event doubled, and twice the links of libbpf's spec limit);
        bpftrace 0.17 takes the same form. /proc/PID/fd/N (a memfd) stays."""
        path = self.path
        if pid and path.startswith("/") and not path.startswith("/proc/"):
            path = "/proc/%d/root%s" % (pid, path)
        return "usdt:%s:%s:%s" % (path, self.provider, self.name)


class Pair:
    """entry/return probes timed together; func: keyed by function."""

    def __init__(self, idx, provider, name, entry, ret, func=False):
        self.idx, self.provider, self.name = idx, provider, name
        self.entry, self.ret, self.func = entry, ret, func
        self.only = None  # a function name the program filters on (heatmap)
        self.key = None   # (entry arg, return arg) matching a call, for KEYED_PAIRS

    @property
    def full(self):
        return "%s:%s" % (self.provider, self.name)


def comm_of(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


def usdt_bin():
    """The `usdt` tool: $USDT_BIN (the `usdt` that started us sets it), else
    `usdt` on PATH, else the one installed beside us (PREFIX/libexec/usdt/
    usdt_view -> PREFIX/bin/usdt), else the source tree's build/bin/usdt."""
    if os.environ.get("USDT_BIN"):
        return os.environ["USDT_BIN"]
    if shutil.which("usdt"):
        return "usdt"
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.path.join(here, "..", "..", "..", "bin", "usdt"),
                 os.path.join(here, "..", "..", os.environ.get("BUILD", "build"), "bin", "usdt")):
        if os.access(cand, os.X_OK):
            return os.path.normpath(cand)
    return "usdt"


def list_probes(usdt_bin, pid):
    """The raw `usdt list --json` records of a live process."""
    if not os.path.exists("/proc/%d" % pid):
        raise ViewError("no process %d" % pid)
    try:
        p = subprocess.run([usdt_bin, "list", "--json", str(pid)], capture_output=True, text=True,
                           timeout=60)
    except OSError as e:
        raise ViewError("cannot run %s: %s" % (usdt_bin, e.strerror))
    if p.returncode != 0:
        msg = p.stderr.strip().splitlines()
        raise ViewError(msg[0].replace("usdt: ", "", 1) if msg else "usdt list failed (exit %d)" % p.returncode)
    try:
        return json.loads(p.stdout)
    except ValueError:
        raise ViewError("usdt list printed no JSON")


def build(records, providers=None, globs=None):
    """Probes and pairs to trace, after the filters: providers (names) and
    globs over provider:name (a pair is kept when either of its probes
    matches, or its own name does)."""
    seen, sites = {}, {}
    for r in records:
        key = (r["path"], r["provider"], r["name"])
        sites[key] = sites.get(key, 0) + 1
        if key not in seen:  # one probe at several addresses: bpftrace attaches to all
            seen[key] = r
    probes = []
    for (path, prov, name), r in seen.items():
        if providers and prov not in providers:
            continue
        full = "%s:%s" % (prov, name)
        if globs:
            named = any(fnmatch.fnmatchcase(full, g) for g in globs)
        else:
            named = (prov, name) not in NOT_BY_DEFAULT
        probes.append((path, prov, name, r.get("types", []), named))
    by_key = {(p[0], p[1], p[2]): p for p in probes}
    pairs, paired = [], set()

    def add_pair(path, prov, base, e, r, func, key=None):
        ep, rp = by_key[(path, prov, e)], by_key[(path, prov, r)]
        keep = ep[4] or rp[4] or (globs and any(fnmatch.fnmatchcase("%s:%s" % (prov, base), g) for g in globs))
        if keep:
            pairs.append((path, prov, base, e, r, func, key))
            paired.update({(path, prov, e), (path, prov, r)})

    for (path, prov, name, types, named) in probes:
        keyed = [k for k in KEYED_PAIRS.get(prov, ()) if k[0] == name]
        if keyed:
            e, r, ke, kr, base = keyed[0]
            if (path, prov, r) in by_key:
                add_pair(path, prov, base, e, r, False, (ke, kr))
            continue
        if any(name == e for e, _ in FUNC_PAIRS) and is_func_pair(types):
            r = dict(FUNC_PAIRS)[name]
            if (path, prov, r) in by_key:
                add_pair(path, prov, name[:-len("__entry")], name, r, True)
            continue
        for es, rs in PAIR_SUFFIXES:
            if name.endswith(es) and len(name) > len(es):
                base = name[:-len(es)]
                if (path, prov, base + rs) in by_key:
                    add_pair(path, prov, base, name, base + rs, False)
                break
    out_probes, index = [], {}

    def probe(path, prov, name, types):
        k = (path, prov, name)
        if k not in index:
            index[k] = Probe(len(out_probes), prov, name, path, types)
            index[k].sites = sites[k]
            out_probes.append(index[k])
        return index[k]

    for (path, prov, name, types, named) in sorted(probes, key=lambda p: (p[1], p[2], p[0])):
        if named or (path, prov, name) in paired:
            probe(path, prov, name, types)
    out_pairs = []
    for (path, prov, base, e, r, func, key) in sorted(pairs, key=lambda p: (p[1], p[2], p[0])):
        out_pairs.append(Pair(len(out_pairs), prov, base, index[(path, prov, e)], index[(path, prov, r)], func))
        out_pairs[-1].key = key
    return out_probes, out_pairs


def row_names(probes, pairs):
    """Names shown, made unique when one provider:name comes from several
    images (a provider split over images, or defined twice)."""
    names = {}
    for group in (probes, pairs):
        count = {}
        for x in group:
            count[x.full] = count.get(x.full, 0) + 1
        for x in group:
            path = x.path if isinstance(x, Probe) else x.entry.path
            names[id(x)] = x.full if count[x.full] == 1 else "%s [%s]" % (x.full, os.path.basename(path))
    return names
