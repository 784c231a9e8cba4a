"""The program usdt stacks_test.sh traces (run as `python -m usdt
stacks_prog.py MODE --stats FILE`, so the runtime provider is on):
  read  reader() reads a file with os.read (read(2)) in a loop, called by
        serve(); a second thread recurses 40 (--depth) deep in deep() and
        reads there
  hot   hot() spins in pure Python, called by compute(); a second thread
        sleeps 5 ms at a time in sleeper()
It writes where its frames are (the file as its code objects name it, the
lines of the calls, found with inspect, not written down) to --stats FILE, the truth the
test compares with, then prints "workload: pid N ready"."""
import argparse
import inspect
import json
import os
import sys
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=("read", "hot"))
ap.add_argument("--stats", required=True)
ap.add_argument("--depth", type=int, default=40, help="deep()'s recursion (read)")
ap.add_argument("--exit-after", type=float, default=0, metavar="SEC", help="exit SEC seconds after ready")
opts = ap.parse_args()
HERE = os.path.abspath(__file__)
CODE_FILE = inspect.currentframe().f_code.co_filename  # as the interpreter names this file
where = {}


def mark(name, back=1):
    """Records the caller's line (back=1) or its caller's (back=2)."""
    f = inspect.currentframe()
    for _ in range(back):
        f = f.f_back
    where[name] = f.f_lineno


def reader(fd):
    while True:
        mark("reader_seek"); os.lseek(fd, 0, os.SEEK_SET)  # noqa: E702
        mark("reader_read"); os.read(fd, 4096)  # noqa: E702 (one line: the line read(2) is called from)
        time.sleep(0.002)


def serve():
    fd = os.open(HERE, os.O_RDONLY)
    mark("serve_call"); threading.Thread(target=ready).start(); reader(fd)  # noqa: E702


def deep(n, fd):
    if n:
        return deep(n - 1, fd)
    while True:
        os.lseek(fd, 0, os.SEEK_SET)
        os.read(fd, 512)
        time.sleep(0.01)


def hot():
    x = 0
    while True:
        x += 1


def sleeper():
    while True:
        mark("sleeper_sleep"); time.sleep(0.005)  # noqa: E702


def compute():
    mark("compute_call"); threading.Thread(target=ready).start(); hot()  # noqa: E702


def ready():
    time.sleep(0.2)  # the main thread is in its loop by then
    with open(opts.stats + ".tmp", "w") as f:
        json.dump({"file": CODE_FILE, "lines": where, "pid": os.getpid(), "python": sys.version}, f)
    os.rename(opts.stats + ".tmp", opts.stats)
    print("workload: pid %d ready" % os.getpid(), flush=True)
    if opts.exit_after:
        time.sleep(opts.exit_after)
        os._exit(0)


if opts.mode == "read":
    threading.Thread(target=deep, args=(opts.depth, os.open(HERE, os.O_RDONLY)), daemon=True).start()
    serve()
else:
    threading.Thread(target=sleeper, daemon=True).start()
    compute()
