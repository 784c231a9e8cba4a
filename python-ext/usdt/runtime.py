"""CPython's own `python` USDT provider, restored on any CPython 3.8-3.13.

    import usdt
    usdt.enable_runtime_probes()                # every module
    usdt.enable_runtime_probes(["myapp"])       # function and line probes of myapp.* only

or, without touching the program:

    python -m usdt script.py args...            # python -m usdt -m package args...
    USDT_RUNTIME_PROBES=1 python script.py      # with the usdt package installed

Probes (as CPython main (3.15) declares them, so bcc's ucalls/uflow/ugc and
existing scripts work): function__entry/function__return (filename,
funcname, lineno, module), cfunction__entry/cfunction__return (the calling
code's filename and lineno, the C function's name and module), gc__start
(generation), gc__done (collected), instance__new__start/done and
instance__delete__start/done (class name, module name),
import__find__load__start (module) / done (module, found), audit (event, args),
line (filename, funcname, lineno). A name with no UTF-8 arrives as NULL.
Ours: stack__layout (layout address, size, version), fired every 100 ms while
traced and hooking nothing: the interpreter's memory layout, for BPF programs
that walk Python stacks (docs/python-stacks.md, view/usdt_view/pystacks.py).

Nothing is hooked until a tracer attaches to one of them: libusdt notices the
semaphore within milliseconds and the extension installs the hooks of exactly
the traced probe families, removing them when the tracer detaches. A tracer
already attached when this is called (by path, before the program started) is
served before enable_runtime_probes() returns. On an interpreter built with
dtrace (Debian's python3.11) only the probes it lacks are added, and its own
function__entry is made to fire while it is traced.
"""
import atexit
import os

from . import _usdt

__all__ = ["enable_runtime_probes", "disable_runtime_probes", "runtime_probes_path",
           "runtime_probes_state"]

_registered = False


def _modules(modules):
    if modules is None:
        return None
    if isinstance(modules, str):
        modules = modules.split(",")
    names = [m.strip() for m in modules if m and m.strip()]
    return names or None


def enable_runtime_probes(modules=None):
    """Define the `python` provider in this process; return its image path.

    modules: None for every module, else module names (a list, or a string
    "pkg1,pkg2"): function and line probes then report only code of those
    modules and their submodules (cfunction probes: calls made from them).
    Calling again changes the filter. Cheap while no tracer is attached: no
    hook is installed until then; families already traced are hooked before
    this returns."""
    global _registered
    path = _usdt._rt_enable(_modules(modules))
    if not _registered:
        atexit.register(_usdt._rt_disable)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_usdt._rt_after_fork)
        _registered = True
    return path


def disable_runtime_probes():
    """Remove every hook and the provider."""
    _usdt._rt_disable()


def runtime_probes_path():
    """Path tracers attach to (bpftrace -e 'usdt:PATH:python:gc__start ...'),
    or None when not enabled or when the interpreter has every probe itself."""
    return _usdt._rt_state()["path"]


def runtime_probes_state():
    """What is defined, what the interpreter has itself, and which hooks are
    installed right now (a dict; for tests and curious users)."""
    return _usdt._rt_state()


def _from_env():
    """Called at interpreter start by usdt-runtime.pth."""
    if os.environ.get("USDT_RUNTIME_PROBES", "") in ("", "0"):
        return
    try:
        enable_runtime_probes(os.environ.get("USDT_RUNTIME_MODULES") or None)
    except Exception as e:  # never stop the program from starting
        import sys
        sys.stderr.write("usdt: runtime probes not enabled: %s\n" % e)
