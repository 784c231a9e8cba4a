"""usdt - USDT probes for Python programs, defined at run time (libusdt).

    import usdt
    app = usdt.Provider("myapp")                 # Provider(name, dir=None)
    req = app.probe("request_start", int, str)   # then app.load(), or `with app:`
    app.load()
    if req.enabled: ...                          # True while a tracer is attached
    req.fire(42, "/index")                       # a no-op while untraced
    app.path                                     # what a tracer attaches to
    app.unload()

Argument types: int (int64), usdt.int8 ... usdt.uint64, a C type name such as
"uint32_t", and str or bytes (both a char * string). While traced, fire()
checks each value: an int that does not fit its type raises OverflowError
(never truncated), a str is passed as UTF-8 and raises ValueError if it
contains a NUL, bytes are passed as they are (a tracer's str() stops at the
first NUL), anything else raises TypeError. While untraced fire() returns at
once without looking at its arguments; check() validates them at any time.
Bad provider/probe names and types raise ValueError. ProbeError (a
RuntimeError) means a wrong state: fire() or enabled use of a provider that
is not loaded (fire raises, enabled is False), probe() on a loaded provider,
load() twice. A Probe keeps its Provider alive; a Provider collected by the
GC is unloaded and freed. Provider.from_d(text_or_path, provider=None) reads
DTrace provider syntax. See usdt.fbt for function entry/return probes.
"""
# Tests and make put the built _usdt in another directory on sys.path.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

from ._usdt import (ArgType, Probe, ProbeError, Provider, int8, int16, int32, int64,
                    uint8, uint16, uint32, uint64)
from .fbt import fbt, fbt_probes, fbt_provider, fbt_traced
from .runtime import disable_runtime_probes, enable_runtime_probes, runtime_probes_path

__all__ = ["Provider", "Probe", "ProbeError", "ArgType", "int8", "int16", "int32",
           "int64", "uint8", "uint16", "uint32", "uint64", "fbt", "fbt_probes", "fbt_provider",
           "fbt_traced", "enable_runtime_probes", "disable_runtime_probes", "runtime_probes_path"]
__version__ = "0.1.0"
