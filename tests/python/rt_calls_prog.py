"""Workload for test_runtime_attach: run as `python -m usdt rt_calls_prog.py [wait]`.

Each section is one function, so the test can cut a trace into sections by
their entry and return events. Lines the test checks carry a `# @tag` comment.
With `wait`, the program prints WAITING and waits for a line on stdin before
the workload, then waits until the hooks of the traced families are in (a
tracer attached by pid after start is served asynchronously)."""
import gc
gc.disable()  # @first: collections happen only where the program asks
import cProfile
import math
import pstats
import sys
import time


def leaf(n):  # @leaf
    return n + 1  # @leaf_ret


def kw(a, b=2, *, c=3):  # @kw
    return leaf(a) + b + c  # @kw_ret


def star(*args, **kwargs):  # @star
    return kw(*args, **kwargs)  # @star_ret


def early(x):  # @early
    if x:
        return "early"  # @early_ret1
    return "late"  # @early_ret2


def calls():  # @calls
    leaf(1)
    kw(1, b=5)
    star(2, c=4)
    early(True)
    early(False)  # @calls_ret


def loop(n):  # @loop
    t = 0  # @loop_1
    for i in range(n):  # @loop_for
        t += i  # @loop_body
    return t  # @loop_ret


def cfuncs():  # @cfuncs
    a = len("abc")  # @cf_len
    b = math.sqrt(16.0)  # @cf_sqrt
    return sum([a, b])  # @cf_sum


def collections():  # @collections
    for gen in range(3):
        for _ in range(10):  # 20 objects only a collection frees
            x, y = [], []
            x.append(y)
            y.append(x)
        del x, y
        gc.collect(gen)


def named():
    return 1


def raiser():
    raise KeyError("kept")


def make_unencodable():
    """Names with no UTF-8 (a lone surrogate), as CPython's own tests make them."""
    named.__code__ = named.__code__.replace(co_name="na\udc80med")
    raiser.__code__ = raiser.__code__.replace(co_name="rai\udc80ser")
    exec(compile("def infile():\n    return len('x')\n", "/tmp/bad\udcff.py", "exec"), ns)


ns = {}


def unencodable():  # @unenc
    named()
    try:
        raiser()
    except KeyError as e:
        kept = e.args == ("kept",) and sys.exc_info()[0] is KeyError
    ns["infile"]()
    try:
        __import__("usdt_no_\udc80")
    except ImportError as e:
        kept = kept and type(e) is ModuleNotFoundError
    return kept


def profiled():  # @profiled
    pr = cProfile.Profile()
    pr.enable()
    len("in cprofile")  # @prof_len
    pr.disable()
    time.sleep(0.3)  # the extension takes the freed profile slot back
    len("after")  # @after_len
    st = pstats.Stats(pr)
    return sum(n for (f, _, name), (n, *_) in st.stats.items() if "len" in name)


def wait_hooks():
    import usdt.runtime
    st = usdt.runtime.runtime_probes_state()
    # Our families, or the interpreter's own entry probe's helper (dtrace build).
    need = ["cfunction", "function" if "function__entry" in st["probes"] else "native_entry"]
    need += [f for f, p in (("line", "line"), ("gc", "gc__start")) if p in st["probes"]]
    end = time.monotonic() + 5
    while not all(st[k] for k in need) and time.monotonic() < end:
        time.sleep(0.01)
        st = usdt.runtime.runtime_probes_state()


if sys.argv[1:] == ["wait"]:
    print("WAITING", flush=True)
    sys.stdin.readline()
    wait_hooks()
calls()
loop(3)
cfuncs()
collections()
import usdt.runtime
if "function__entry" in usdt.runtime.runtime_probes_state()["native"]:
    # Debian's 3.11 fires its own function probes, which raise SystemError for
    # such names (CPython gh-156118, fixed in 3.15): not ours to run.
    print("UNENC native", flush=True)
else:
    make_unencodable()
    print("UNENC", unencodable(), flush=True)
print("CPROFILE", profiled(), flush=True)
