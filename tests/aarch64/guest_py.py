"""The usdt extension on Debian's arm64 python3, for tests/aarch64/guest.sh:
a dynamic provider with every argument type, an @fbt function and the
runtime `python` probes, fired every few milliseconds until killed. Prints
"PATHS <provider> <fbt> <runtime>" once everything is loaded, then "sema N"
whenever the dynamic probe's enabled state changes."""
import sys
import time

import usdt
from usdt import fbt

I64_MIN, I64_MAX, U64_MAX = -2**63, 2**63 - 1, 2**64 - 1

app = usdt.Provider("pya64")
# bpftrace 0.17 reads at most arg0-arg7 on arm64: the types go in two probes.
every = app.probe("every", usdt.int8, usdt.int16, usdt.int32, usdt.int64,
                  usdt.uint8, usdt.uint16, usdt.uint32, usdt.uint64)
texts = app.probe("texts", str, bytes, int, int)
app.load()


@fbt(provider="pya64fbt", name="work", args=True)
def work(n, tag):
    return n * 2


class Widget:
    pass


rt = usdt.enable_runtime_probes(["__main__"])
print("PATHS %s %s %s" % (app.path, usdt.fbt_provider(work).path, rt), flush=True)
was = None
while True:
    on = every.enabled
    if on != was:
        print("sema %d" % on, flush=True)
        was = on
    every.fire(-2**7, -2**15, -2**31, I64_MIN, 2**8 - 1, 2**16 - 1, 2**32 - 1, U64_MAX)
    texts.fire("h\u00e9llo arm64", b"raw bytes", I64_MAX, -1)
    work(21, "x")
    Widget()
    time.sleep(0.003)
