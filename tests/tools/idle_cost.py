#!/usr/bin/env python3
"""idle_cost.py PID [SECONDS] - what an idle process costs: wakeups a second
(voluntary + nonvoluntary context switches of all its threads, from
/proc/PID/task/*/status), CPU ms a second (utime + stime of the process),
threads. Prints one line: "IDLE wakeups_per_s=W cpu_ms_per_s=C threads=T"."""
import os
import sys
import time


def switches(pid):
    n = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                for line in f:
                    if "ctxt_switches:" in line:
                        n += int(line.split()[1])
        except OSError:
            pass  # a thread that just ended
    return n


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def measure(pid, seconds):
    hz = os.sysconf("SC_CLK_TCK")
    s0, c0, t0 = switches(pid), cpu_ticks(pid), time.monotonic()
    time.sleep(seconds)
    s1, c1, t1 = switches(pid), cpu_ticks(pid), time.monotonic()
    dt = t1 - t0
    return (s1 - s0) / dt, (c1 - c0) * 1000.0 / hz / dt, len(os.listdir("/proc/%d/task" % pid))


if __name__ == "__main__":
    w, c, n = measure(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 4)
    print("IDLE wakeups_per_s=%.2f cpu_ms_per_s=%.3f threads=%d" % (w, c, n))
