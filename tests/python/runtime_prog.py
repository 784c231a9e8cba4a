"""Workload for test_runtime: run as `python -m usdt runtime_prog.py`.

Reads commands on stdin: "state" prints the hooks visible to the interpreter's
own introspection, "go" runs the workload and prints DONE, "exit" ends.
The tests find the lines of rt_leaf and rt_outer in this file.
With the argument fork, a forked child serves the commands."""
import gc
import json
import os
import sys
import threading
import time


def rt_leaf(n):
    return n + 1


def rt_outer(n):
    x = rt_leaf(n)
    return x * 2


def rt_in_thread():
    return rt_leaf(0)


def thread_main():
    # Let the main thread settle in join() first: 3.11's own entry probe is
    # skipped at a function start where a GIL hand-off is pending.
    time.sleep(0.05)
    rt_in_thread()


class RtThing:
    def __init__(self):
        self.v = 1




def workload():
    for i in range(3):
        rt_outer(i)
    t = threading.Thread(target=thread_main)  # a thread started while traced
    t.start()
    t.join()
    objs = [RtThing() for _ in range(5)]
    del objs
    for _ in range(60):  # 120 objects only a collection frees
        a, b = [], []
        a.append(b)
        b.append(a)
    del a, b
    gc.collect(2)
    import colorsys  # noqa: F401  (a module nobody imported yet)
    try:
        import usdt_no_such_module  # noqa: F401
    except ImportError:
        pass
    sys.audit("usdt.test", 42)


def user_tracer(frame, event, arg):
    """A debugger's or coverage's trace function: must stay in place."""
    return None


def state():
    import importlib._bootstrap as b
    s = {"profile": sys.getprofile() is not None,
         "gc_callbacks": [getattr(c, "__name__", "?") for c in gc.callbacks],
         "find_and_load": type(b._find_and_load).__name__}
    if hasattr(sys, "monitoring"):
        s["tools"] = [sys.monitoring.get_tool(i) for i in range(6)]
    try:
        import usdt.runtime
        st = usdt.runtime.runtime_probes_state()
        s["installed"] = sorted(k for k in ("function", "instance", "gc", "import", "audit",
                                            "line", "native_entry", "eval_frame_hook",
                                            "type_new_hook")
                                if st.get(k))
        s["thread_hooks"] = [h for h in ("_trace_hook", "_profile_hook")
                             if getattr(getattr(threading, h, None), "__name__",
                                        "").startswith("usdt_")]
        s["user_trace"] = [getattr(sys.gettrace(), "__name__", None),
                           getattr(getattr(threading, "_trace_hook", None), "__name__", None)]
        s["path"] = st["path"]
        s["probes"] = st["probes"]
    except Exception as e:  # noqa
        s["error"] = repr(e)
    return s


for _ in range(2000):  # specialized call sites must not skip the instance hooks
    RtThing()
if "fork" in sys.argv[1:] and os.fork() != 0:  # the child is traced
    os._exit(0)
print("STARTED %d" % os.getpid(), flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "state":
        print("STATE " + json.dumps(state()), flush=True)
    elif cmd == "usertrace":
        sys.settrace(user_tracer)
        threading.settrace(user_tracer)
        print("USERTRACE", flush=True)
    elif cmd == "go":
        workload()
        print("DONE", flush=True)
    elif cmd == "exit":
        break
