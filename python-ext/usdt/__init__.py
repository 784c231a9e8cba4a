"""usdt - USDT probes for Python programs, defined at run time (libusdt).

    import usdt
    app = usdt.Provider("myapp")
    req = app.probe("request_start", int, str)
    app.load()
    req.fire(42, "/index")      # a no-op while no tracer is attached
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
