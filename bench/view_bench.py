#!/usr/bin/env python3
"""usdt top's cost, with bpftrace really attached (needs root and bpftrace):
  view.top_cpu_percent        CPU of the viewer, bpftrace included, in % of
                              one core, while the workload fires ~10,000
                              traced events a second
  view.top_events_per_s       the traced events a second it saw meanwhile
  view.top_workload_slowdown  the workload's throughput (units per second of
                              its own CPU time) lost under usdt top, in %,
                              against untraced turns of the same run
  view.bare_bpftrace_slowdown the same under a bare bpftrace whose actions on
                              the two probes are empty: the floor any tracer
                              pays, beside which usdt top's figure is read
  view.top_cost_per_hit_ns    what one traced event costs the workload under
                              usdt top (the uprobe trap, usdt top's BPF
                              program, the extension's traced fire() path),
                              from the same loop with no work in it
  view.bare_cost_per_hit_ns   the same under the bare bpftrace
  view.top_attach_s           from `usdt top` starting to its first interval
The workload (view_workload.py, Python, one thread: units of ~100 us paced
to 5,000 a second, 10,000 traced events) runs throughout;
untraced, bare and usdt top turns of 3 s alternate, 5 each (3 for the
empty loop); medians.
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", "build")
USDT = os.path.join(ROOT, BUILD, "bin", "usdt")
TURN = float(os.environ.get("VIEW_BENCH_TURN", "3"))
TURNS = int(os.environ.get("VIEW_BENCH_TURNS", "5"))
TICK = os.sysconf("SC_CLK_TCK")


class Workload:
    def __init__(self, work, rate=0):
        self.p = subprocess.Popen([os.path.join(ROOT, "scripts", "with-python"), "python3",
                                   os.path.join(ROOT, "bench", "view_workload.py"), str(work), str(rate)],
                                  stdout=subprocess.PIPE, text=True, cwd=ROOT)
        self.pid = int(self.p.stdout.readline().split()[1])
        self.samples = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            t, n = line.split()
            self.samples.append((float(t), int(n)))

    def units(self):
        return self.samples[-1][1] if self.samples else 0

    def begin(self):
        time.sleep(0.3)  # a fresh sample
        self.mark = (self.units(), cpu_seconds(self.pid))

    def rate(self):
        """Units per second of the workload's own CPU time since begin():
        unlike units per wall second, it does not move when other work on a
        shared machine takes the core away, and it counts what tracing adds
        in the workload's context (the uprobe trap, the BPF program)."""
        time.sleep(0.3)
        n0, c0 = self.mark
        n1, c1 = self.units(), cpu_seconds(self.pid)
        return (n1 - n0) / (c1 - c0) if c1 > c0 else None

    def stop(self):
        self.p.kill()
        self.p.wait()


def cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def children(pid):
    out = []
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def traced_turn(wl):
    """One turn under usdt top --json: (units/s, viewer CPU %, events/s, attach s)."""
    t_start = time.monotonic()
    top = subprocess.Popen([USDT, "top", "--json", wl.pid and str(wl.pid)], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    first = top.stdout.readline()  # attached: the first interval is out
    attach = time.monotonic() - t_start
    if not first:
        raise SystemExit("view_bench: usdt top printed nothing")
    procs = [top.pid] + children(top.pid)
    wl.begin()
    c0, t0 = sum(cpu_seconds(p) for p in procs), time.monotonic()
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(top.stdout), daemon=True)
    reader.start()
    time.sleep(TURN)
    c1, t1 = sum(cpu_seconds(p) for p in procs), time.monotonic()
    top.send_signal(signal.SIGINT)
    top.wait(120)
    events = []
    for line in lines:
        for r in json.loads(line)["rows"]:
            if r["name"] == "bench:req":
                events.append(2 * r["rate"])
    return wl.rate(), 100.0 * (c1 - c0) / (t1 - t0), statistics.median(events) if events else 0, attach


def bare_turn(wl):
    """One turn under a bare bpftrace attached to the same two probes with
    empty actions: the floor, what any tracer costs per hit."""
    rec = json.loads(subprocess.run([USDT, "list", "--json", str(wl.pid)], capture_output=True,
                                     text=True).stdout)
    # /proc/PID/root/PATH: bpftrace 0.25+ attaches an explicit PATH twice under -p.
    specs = ["usdt:/proc/%d/root%s:%s:%s {}" % (wl.pid, r["path"], r["provider"], r["name"]) for r in rec
             if r["provider"] == "bench"]
    # BEGIN runs once every probe is attached: our own marker, not
    # bpftrace's banner (0.17: "Attaching N probes..." on stdout before
    # attaching; 0.25+: "Attached N probes" on stderr after, so reading
    # stdout for it never returned). Started on the semaphores alone, 0.17
    # ignored the closing SIGINT in 2 of 4 runs here; after BEGIN, never.
    bt = subprocess.Popen(["bpftrace", "-p", str(wl.pid), "-e",
                           'BEGIN { printf("bench-ready\\n"); } ' + " ".join(specs)],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in bt.stdout:
        if line.strip() == "bench-ready":
            break
    else:
        raise SystemExit("view_bench: bpftrace exited (%s) before attaching" % bt.wait())
    time.sleep(0.5)
    wl.begin()
    time.sleep(TURN)
    rate = wl.rate()
    bt.send_signal(signal.SIGINT)
    bt.wait(60)
    return rate


def main():
    if os.geteuid() != 0 or subprocess.run(["which", "bpftrace"], capture_output=True).returncode:
        print("view_bench: needs root and bpftrace", file=sys.stderr)
        return 1
    # Units of ~100 us (half a core at full rate), paced to 5,000 a second:
    # 10,000 traced events a second.
    wl = Workload(400)
    time.sleep(0.5)
    wl.begin()
    time.sleep(1.0)
    r = wl.rate()
    wl.stop()
    work = max(10, int(400 * (r or 10000) / 10000))
    wl = Workload(work, 5000)
    time.sleep(1.0)
    base, bare, traced, cpu, ev, att = run_turns(wl, TURNS)
    b, f, t = statistics.median(base), statistics.median(bare), statistics.median(traced)
    # The cost of one traced event, where it is large enough to see: the
    # same loop with no work between the probes (tracing dominates).
    hot = Workload(0)
    time.sleep(0.5)
    hb, hf, ht, _, _, _ = run_turns(hot, 3)
    hb, hf, ht = statistics.median(hb), statistics.median(hf), statistics.median(ht)
    print("BENCH view.top_cpu_percent %.2f %%" % statistics.median(cpu))
    print("BENCH view.top_events_per_s %.0f events/s" % statistics.median(ev))
    print("BENCH view.top_workload_slowdown %.2f %%" % (100.0 * (1 - t / b)))
    print("BENCH view.bare_bpftrace_slowdown %.2f %%" % (100.0 * (1 - f / b)))
    print("BENCH view.top_cost_per_hit_ns %.0f ns" % ((1 / ht - 1 / hb) / 2 * 1e9))
    print("BENCH view.bare_cost_per_hit_ns %.0f ns" % ((1 / hf - 1 / hb) / 2 * 1e9))
    print("BENCH view.top_attach_s %.2f s" % statistics.median(att))
    print("view_bench: %d-unit loop untraced %s, bare bpftrace %s, usdt top %s units per CPU-second; "
          "empty loop %.0f, %.0f, %.0f" % (TURNS, [round(x) for x in base], [round(x) for x in bare],
                                           [round(x) for x in traced], hb, hf, ht), file=sys.stderr)
    return 0


def run_turns(wl, turns):
    base, bare, traced, cpu, ev, att = [], [], [], [], [], []
    try:
        for _ in range(turns):
            wl.begin()
            time.sleep(TURN)
            base.append(wl.rate())
            bare.append(bare_turn(wl))
            time.sleep(0.5)
            u, c, e, a = traced_turn(wl)
            traced.append(u), cpu.append(c), ev.append(e), att.append(a)
            time.sleep(0.5)  # semaphores down, hooks gone
    finally:
        wl.stop()
    return base, bare, traced, cpu, ev, att


if __name__ == "__main__":
    sys.exit(main())
