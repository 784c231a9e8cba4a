"""test_stacks' workload: run as `python -m usdt stacks_prog.py` (the runtime
provider on). It prints `READY <marker fd> <app provider path>`, waits for
`go` on stdin, then goes through known points. At each point it prints the
expected stack (`EXP <id> <json [[func, file, line], ...]>`, innermost first,
from sys._getframe walks: co_qualname on 3.11+, co_name before) and then
triggers an event carrying the point id: lseek(marker fd, id) (a tracepoint)
or the app probe stk:point(id) (a uprobe). Between HOT_ON and HOT_OFF marks
a CPU-bound hot() runs for the profile check. Then `DONE`, and it waits for
`exit` (its code objects must stay alive while the test resolves them).
"""
import asyncio
import json
import os
import sys
import threading

import usdt

HOT_ON, HOT_OFF = 1000, 1001
NEW = sys.version_info >= (3, 11)
FD = os.open("/dev/null", os.O_RDONLY)
APP = usdt.Provider("stk")
PROBE = APP.probe("point", int)
APP.load()
OUT = threading.Lock()


def name(code):
    return code.co_qualname if NEW else code.co_name


def helper_line(tag):
    with open(__file__) as f:
        for i, l in enumerate(f, 1):
            if l.rstrip().endswith("# @" + tag):
                return i
    raise RuntimeError(tag)


LSEEK_LINE, FIRE_LINE = helper_line("lseek"), helper_line("fire")


def expected(helper, line):
    out = [[helper, __file__, line]]
    f = sys._getframe(2)  # the helper's caller
    while f is not None:
        out.append([name(f.f_code), f.f_code.co_filename, f.f_lineno])
        f = f.f_back
    return out


def say(line):
    with OUT:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def point(pid_, barrier=None):
    say("EXP %d %s" % (pid_, json.dumps(expected("point", LSEEK_LINE))))
    if barrier is not None:
        barrier.wait()
    os.lseek(FD, pid_, 0)  # @lseek


def upoint(pid_):
    say("EXP %d %s" % (pid_, json.dumps(expected("upoint", FIRE_LINE))))
    PROBE.fire(pid_)  # @fire


# ---- the points ----------------------------------------------------------------

def nested_c(i):
    point(i)


def nested_b(i):
    nested_c(i)


def nested_a(i):
    nested_b(i)


class Klass:
    def method(self, i):
        nested_a(i)

    @staticmethod
    def static(i):
        point(i)


def thread_inner(i, depth, barrier):
    if depth:
        thread_inner(i, depth - 1, barrier)
    else:
        point(i, barrier)


def thread_outer(i, depth, barrier):
    thread_inner(i, depth, barrier)


def threads(first, n):
    """n threads, the k-th k calls deeper: each at its own point, at once."""
    barrier = threading.Barrier(n)
    ts = [threading.Thread(target=thread_outer, args=(first + k, k, barrier))
          for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def recurse(n, i):
    if n == 0:
        point(i)
    else:
        recurse(n - 1, i)


def generator(i):
    yield 1
    point(i)
    yield 2


async def coro_inner(i):
    await asyncio.sleep(0)
    point(i)


async def coro(i):
    await coro_inner(i)


async def task_body(i):
    point(i)


async def with_task(i):
    await asyncio.create_task(task_body(i))


def keyed(i):
    called = []

    def key(x):
        if not called:
            called.append(1)
            point(i)
        return -x
    return sorted([3, 1, 2], key=key)


def unwinding(i):
    try:
        try:
            raise ValueError("unwinding")
        finally:
            point(i)
    except ValueError:
        point(i + 1)


def uprobe_point(i):
    upoint(i)


def native_thread_syscall():
    """A thread Python never ran on (no thread state): its start routine is
    libc's getppid itself, a syscall the test's program walks at."""
    import ctypes
    libc = ctypes.CDLL(None)
    tid = ctypes.c_ulong()
    start = ctypes.cast(libc.getppid, ctypes.c_void_p)
    if libc.pthread_create(ctypes.byref(tid), None, start, None) != 0:
        raise OSError("pthread_create failed")
    libc.pthread_join(tid, None)


def hot(seconds):
    import time
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        for k in range(2000):
            n += k * k
    return n


def main():
    sys.setrecursionlimit(5000)
    say("READY %d %s" % (FD, APP.path))
    if sys.stdin.readline().strip() != "go":
        return
    nested_a(1)
    Klass().method(2)
    Klass.static(3)
    threads(10, 4)                # 10..13
    recurse(1000, 20)
    for _ in generator(21):
        pass
    asyncio.run(coro(22))
    asyncio.run(with_task(23))
    keyed(24)
    unwinding(25)                 # 25, 26
    uprobe_point(27)
    native_thread_syscall()
    os.lseek(FD, HOT_ON, 0)
    hot(float(os.environ.get("STACKS_HOT_SECONDS", "1.0")))
    os.lseek(FD, HOT_OFF, 0)
    say("DONE")
    sys.stdin.readline()


main()
