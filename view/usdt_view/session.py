"""What both commands share: checks a user's errors in order (process,
bpftrace, root, probes, filters), builds the program, runs the tracer."""
import os
import sys

from . import discover, program, split
from .errors import ViewError
from .memory import Strings
from .model import Model
from .tracer import Tracers, check_environment


def parse_pid(text):
    try:
        pid = int(text)
    except ValueError:
        pid = 0
    if pid <= 0:
        raise ViewError("%s: not a process id" % text, 2)
    if not os.path.exists("/proc/%d" % pid):
        raise ViewError("no process %d" % pid)
    return pid


class Session:
    def __init__(self, what, pid, probes, pairs, interval=1.0, window=5.0):
        self.what, self.pid, self.probes, self.pairs = what, pid, probes, pairs
        self.interval = interval
        self.comm = discover.comm_of(pid)
        self.names = discover.row_names(probes, pairs)
        ms = max(1, int(round(interval * 1000)))
        self.programs = [(program.build(ps, prs, ms, pid), sum(p.sites for p in ps))
                         for ps, prs in split.split(probes, pairs)]
        self.strings = Strings(pid)
        self.model = Model(pid, probes, pairs, self.names, self.strings, window)
        self.tracer = Tracers(pid, self.programs)

    def attaching(self):
        """What is being attached, for the user: N probes in M programs."""
        n = len(self.programs)
        return "%d probes in %d bpftrace program%s" % (len(self.probes), n, "" if n == 1 else "s")

    def start(self):
        self.tracer.start()
        if len(self.programs) > 1 and sys.stderr.isatty():
            sys.stderr.write("%s: attaching %s (libbpf's limit: %d a program)\n"
                             % (self.what, self.attaching(), split.LIMIT))
        return self

    def fail(self):
        sys.stderr.write("%s: %s\n" % (self.what, self.tracer.failure()))
        return 1

    def close(self):
        if self.tracer.running() and len(self.probes) > 40 and sys.stderr.isatty():
            sys.stderr.write("%s: detaching %d probes (the kernel takes a while)...\n" % (self.what, len(self.probes)))
        self.tracer.stop()
        self.strings.close()


def discover_all(what, pid, providers=None, globs=None):
    """Probes and pairs of the process after the filters, or a ViewError
    saying which of the user's errors it is."""
    check_environment()
    records = discover.list_probes(discover.usdt_bin(), pid)
    if not records:
        raise ViewError("process %d (%s) has no USDT probes" % (pid, discover.comm_of(pid)))
    probes, pairs = discover.build(records, providers, globs)
    if not probes:
        have = sorted({r["provider"] for r in records})
        raise ViewError("no probes of process %d match the filters (providers: %s)" % (pid, ", ".join(have)))
    return records, probes, pairs
