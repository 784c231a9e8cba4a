#!/usr/bin/env python3
"""Python stacks walked by BPF (view/usdt_view/pystacks.py): what they cost.
BENCH lines per interpreter (prefix as python_runtime_bench: py3.X, pydeb),
for the interpreters in $USDT_STACKS_BENCH_PYTHONS (default: Debian's python3
and pyenv's 3.12; about 15 s each).

One workload process (`python -m usdt`, the runtime provider on) and one
bpftrace session holding three programs: a profile timer at 99 Hz walking
the workload's Python stack (walk, and emit once per new stack) while a flag
is set, a tracepoint on lseek walking the stack at every marker call, and a
second tracepoint doing no walk (the floor).
  stacks_profile_ratio_calls  a call-heavy loop's time while the profile walks
                              its stack at 99 Hz, over its time with the flag
                              off (the timer's program then stops at its
                              predicate), in alternating turns in one process:
                              best turn over best turn, each turn 0.2 s (about
                              20 samples) (target <= 1.02)
  stacks_profile_ratio_control  the same between two kinds of turns both with
                              the flag off: the noise floor of the figure above
  stacks_walk_ns_shallow      BPF run time per event of the lseek program
                              that walks a stack of stacks_depth_shallow
                              frames, minus the floor program's (kernel
                              bpf_stats: run_time_ns / run_cnt, from the
                              bpftrace process's /proc/PID/fdinfo)
  stacks_walk_ns_128          the same at the walk's bound (a 300-deep
                              recursion, 128 frames walked, truncated)
  stacks_event_floor_ns       the floor program's run time per event
kernel.bpf_stats_enabled is set to 1 for the measurement and put back.
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODE = "USDT_STACKS_BENCH"
MARK_ON, MARK_OFF, MARK_WALK = 1, 2, 3
TURNS = 14
TURN_S = 0.2
COST_EVENTS = 20000


# ---- the workload (child) -------------------------------------------------------

def f(x):
    return g(x) + 1


def g(x):
    return x


def calls(n):
    s = 0
    for i in range(n):
        s += f(i)
    return s


def timed_turn(n):
    t = time.perf_counter()
    calls(n)
    return time.perf_counter() - t


def at_depth(depth, fn, *a):
    if depth <= 0:
        return fn(*a)
    return at_depth(depth - 1, fn, *a)


def depth_here():
    n, fr = 0, sys._getframe()
    while fr is not None:
        n += 1
        fr = fr.f_back
    return n


def child():
    fd = os.open("/dev/null", os.O_RDONLY)
    say = lambda s: (sys.stdout.write(s + "\n"), sys.stdout.flush())  # noqa: E731
    say("READY %d" % fd)
    sys.stdin.readline()
    # The loop's size for one turn of about TURN_S.
    n = 20000
    while timed_turn(n) < TURN_S / 4:
        n *= 2
    n = int(n * TURN_S / timed_turn(n))
    # Best turn of each kind: a turn of TURN_S holds about 20 samples, so its
    # best still pays for them, while other processes' bursts on this shared
    # machine (which the median of pairs' ratios let through, +-7 %) are
    # left out.
    on_t, off_t, a_t, b_t = [], [], [], []
    for k in range(TURNS):
        for on in ((True, False) if k % 2 == 0 else (False, True)):
            os.lseek(fd, MARK_ON if on else MARK_OFF, 0)
            (on_t if on else off_t).append(timed_turn(n))
        os.lseek(fd, MARK_OFF, 0)
        for first in ((True, False) if k % 2 == 0 else (False, True)):
            (a_t if first else b_t).append(timed_turn(n))
    say("RATIO %.4f %.4f" % (min(on_t) / min(off_t), min(a_t) / min(b_t)))

    def lseeks(count):
        for _ in range(count):
            os.lseek(fd, MARK_WALK, 0)

    def depth_and_lseeks(count):
        say("DEPTH %d" % (depth_here() + 1))  # + lseeks' own frame
        sys.stdin.readline()
        lseeks(count)
        say("DONE")
        sys.stdin.readline()

    sys.setrecursionlimit(2000)
    at_depth(0, depth_and_lseeks, COST_EVENTS)
    at_depth(300, depth_and_lseeks, COST_EVENTS)
    say("END")


# ---- the measurement (parent, one interpreter) ---------------------------------

def prog_stats(pid):
    """{fd: (prog_type, verified_insns, run_time_ns, run_cnt)} of process
    pid's BPF programs (the walk is the one with many more instructions)."""
    out = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != "anon_inode:bpf-prog":
                continue
            kv = {}
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as fi:
                for line in fi:
                    k, _, v = line.partition(":")
                    kv[k.strip()] = v.strip()
            out[fd] = (int(kv.get("prog_type", -1)), int(kv.get("verified_insns", 0)),
                       int(kv.get("run_time_ns", 0)), int(kv.get("run_cnt", 0)))
        except (OSError, ValueError):
            continue
    return out


def measure():
    sys.path.insert(0, os.path.join(ROOT, "view"))
    sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
    from usdt_view import pystacks
    from tracing import Bpftrace
    from each_python import py_tag
    tag = py_tag()
    build = os.environ.get("BUILD", "build")
    os.environ.setdefault("USDT_BIN", os.path.join(ROOT, build, "bin", "usdt"))
    p = subprocess.Popen([sys.executable, "-m", "usdt", os.path.abspath(__file__)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, **{MODE: "child"}))
    bt = None
    try:
        fd = int(p.stdout.readline().split()[1])
        layout = pystacks.discover(p.pid)
        walk, emit = pystacks.walk(layout), pystacks.emit(layout)
        prog = (
            "tracepoint:syscalls:sys_enter_lseek /pid == %d && args->fd == %d/ {\n"
            "if (args->offset == %d) { @on = 1; }\n"
            "if (args->offset == %d) { @on = 0; }\n"
            "if (args->offset == %d) {\n%s@w[$pyh] = count(); }\n}\n"
            "tracepoint:syscalls:sys_exit_lseek /pid == %d/ { @floor = count(); }\n"
            "profile:hz:99 /pid == %d && @on == 1/ {\n%s"
            "if (@seen[$pyh] == 0) { @seen[$pyh] = 1;\n%s}\n@p[$pyh] = count(); }\n"
            % (p.pid, fd, MARK_ON, MARK_OFF, MARK_WALK, walk, p.pid, p.pid, walk, emit))
        bt = Bpftrace(prog)
        bt.wait_ready(60)
        p.stdin.write("go\n")
        p.stdin.flush()
        line = p.stdout.readline().split()
        ratio, control = float(line[1]), float(line[2])
        print("BENCH %s.stacks_profile_ratio_calls %.3f x" % (tag, ratio))
        print("BENCH %s.stacks_profile_ratio_control %.3f x" % (tag, control))
        for name in ("shallow", "128"):
            depth = int(p.stdout.readline().split()[1])
            s0 = prog_stats(bt.proc.pid)
            p.stdin.write("ok\n")
            p.stdin.flush()
            assert p.stdout.readline().strip() == "DONE"
            s1 = prog_stats(bt.proc.pid)
            p.stdin.write("ok\n")
            p.stdin.flush()
            # The two tracepoint programs (prog_type 5): the walk is the big one.
            tp = sorted((v[1], fd_) for fd_, v in s1.items() if v[0] == 5)
            (_, floor_fd), (_, walk_fd) = tp[0], tp[-1]

            def per_event(fd_):
                dt = s1[fd_][2] - s0[fd_][2]
                dn = s1[fd_][3] - s0[fd_][3]
                return dt / dn if dn else float("nan")
            floor_ns, walk_ns = per_event(floor_fd), per_event(walk_fd)
            if name == "shallow":
                print("BENCH %s.stacks_depth_shallow %d frames" % (tag, depth))
                print("BENCH %s.stacks_event_floor_ns %.0f ns" % (tag, floor_ns))
            print("BENCH %s.stacks_walk_ns_%s %.0f ns" % (tag, name, walk_ns - floor_ns))
        assert p.stdout.readline().strip() == "END"
        lines = bt.stop()
        # The profile really walked during the "on" turns: its stacks were printed.
        if not any(l.startswith("PYE ") and not l.startswith("PYE 1 ") for l in lines):
            raise SystemExit("python_stacks_bench: the profile program printed no stack")
    finally:
        if bt is not None:
            bt.stop()
        if p.poll() is None:
            p.kill()
        p.wait()


def parent():
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled") as f:
            old = f.read().strip()
    except OSError:
        print("python_stacks_bench: no kernel.bpf_stats_enabled", file=sys.stderr)
        return 1
    status = 0
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        for py in os.environ.get("USDT_STACKS_BENCH_PYTHONS", "deb 3.12").split():
            r = subprocess.run([os.path.join(ROOT, "scripts", "with-python"), py,
                                os.path.abspath(__file__)], cwd=ROOT,
                               env=dict(os.environ, **{MODE: "measure"}),
                               stdout=subprocess.PIPE, text=True)
            sys.stdout.write(r.stdout)
            sys.stdout.flush()
            if r.returncode:
                sys.stderr.write("python_stacks_bench: %s exited %d\n" % (py, r.returncode))
                status = 1
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(old)
    return status


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    mode = os.environ.get(MODE)
    if mode == "child":
        child()
    elif mode == "measure":
        measure()
    else:
        sys.exit(parent())
