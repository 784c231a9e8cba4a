"""An idle process for test_idle.py: with "fbt", one @fbt function; with
"runtime", the runtime probes. Prints READY <path> <1 if function__entry
is in our provider>: the provider's path, or where the interpreter declares
function__entry itself (3.15) the interpreter's file; sleeps until a
line arrives on stdin, then calls idle_leaf every millisecond until killed."""
import os
import sys
import time

import usdt


@usdt.fbt
def idle_leaf(n):
    return n + 1


ours = 1
if sys.argv[1] == "runtime":
    from usdt import _usdt
    path = usdt.enable_runtime_probes()
    ours = int("function__entry" in _usdt._rt_state()["probes"])
    if not ours:
        path = os.path.realpath(sys.executable)
else:
    path = usdt.fbt_provider(idle_leaf).path
print("READY %s %d" % (path, ours), flush=True)
sys.stdin.readline()
while True:
    idle_leaf(1)
    time.sleep(0.001)
