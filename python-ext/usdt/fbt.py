"""@fbt: entry and return probes for chosen functions, free while untraced.

    from usdt import fbt

    @fbt
    def handle(req): ...

    @fbt(provider="myapp", name="handle", args=True)
    def other(x): ...

The decorator returns the function itself (same object: name, docstring,
signature, iscoroutinefunction unchanged) and nothing runs per call until a
tracer attaches to one of its probes; then a hook is installed for exactly
that function (sys.monitoring on 3.12+, a frame evaluation hook on 3.8-3.11)
and removed when the last tracer leaves.

Probes, in provider PROVIDER (default: the module name with every character
outside [A-Za-z0-9_] turned into '_', e.g. "myapp_server" for myapp.server):
    NAME__entry(char *module, char *qualname, char *filename, int32 line
                [, char *args])
    NAME__return(char *module, char *qualname, char *filename, int32 line,
                 int32 raised [, char *result])
NAME defaults to the qualified name mangled the same way ("Cls.method" ->
"Cls_method", "outer.<locals>.inner" -> "outer_locals_inner"), cut to 50
characters; a clash inside one provider gets a suffix _2, _3, ...
Each provider image holds up to 32 functions (adding a function reloads its
image); more functions of one provider go to further images with the same
provider name, so attach by pid (bpftrace -p PID 'usdt::PROVIDER:NAME__entry')
or by the path fbt_provider(func).path. With
args=True, args is "a=1, b='x'" (repr() of each parameter) and result is
repr() of the returned value or of the exception; both are built only while
traced and cut at 1024 bytes; parameters come in the code's order (positional,
keyword-only, *args, **kwargs).

Generators and coroutines: entry fires each time the body starts or resumes
(next(), send(), throw(), an await finishing), return each time it yields,
awaits, returns or raises (raised=1 only for an exception leaving the body).
"""
import atexit
import re

from . import _usdt

__all__ = ["fbt", "fbt_probes", "fbt_traced", "fbt_provider"]

_bad = re.compile(r"[^A-Za-z0-9_]")


def _mangle(s, limit):
    s = _bad.sub("_", s.replace("<", "").replace(">", ""))
    if not s or s[0].isdigit():
        s = "_" + s
    return s[:limit]


def _code_of(func):
    f = getattr(func, "__func__", func)  # staticmethod, classmethod, bound method
    code = getattr(f, "__code__", None)
    if code is None:
        raise TypeError("@fbt needs a Python function, got %r" % (func,))
    return f, code


def _params(code):
    n = code.co_argcount + code.co_kwonlyargcount
    n += bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)  # *args, **kwargs
    return tuple(code.co_varnames[:n])


def fbt(func=None, *, provider=None, name=None, args=False):
    """Give func entry/return probes; returns func itself (see module doc)."""
    if func is None:
        return lambda f: fbt(f, provider=provider, name=name, args=args)
    f, code = _code_of(func)
    module = getattr(f, "__module__", None) or "?"
    qualname = getattr(f, "__qualname__", f.__name__)
    pname = provider if provider is not None else _mangle(module, 64)
    base = name if name is not None else _mangle(qualname, 50)
    _usdt._fbt_register(code, pname, base, bool(args), module, qualname, code.co_filename,
                        code.co_firstlineno, _params(code))
    return func


def fbt_provider(func):
    """The usdt.Provider holding func's probes."""
    return _usdt._fbt_info(_code_of(func)[1])[0]


def fbt_probes(func):
    """(entry, return) usdt.Probe objects of an @fbt function."""
    prov, entry, ret, _ = _usdt._fbt_info(_code_of(func)[1])
    return prov[entry], prov[ret]


def fbt_traced(func):
    """True while func's hook is installed (a tracer is attached)."""
    return _usdt._fbt_info(_code_of(func)[1])[3]


atexit.register(_usdt._fbt_shutdown)
