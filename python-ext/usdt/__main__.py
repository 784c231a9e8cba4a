"""python -m usdt [--modules a,b] script.py args...
python -m usdt [--modules a,b] -m module args...

Runs a program with CPython's `python` USDT provider enabled (see usdt.runtime),
as `python script.py` / `python -m module` would: same sys.argv, same __main__.
--modules (or USDT_RUNTIME_MODULES) restricts function and line probes to those modules.
"""
import os
import runpy
import sys

from .runtime import enable_runtime_probes


def main():
    args = sys.argv[1:]
    modules = os.environ.get("USDT_RUNTIME_MODULES") or None
    while args and args[0].startswith("-") and args[0] != "-m":
        opt = args.pop(0)
        if opt in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        if opt == "--modules" and args:
            modules = args.pop(0)
        elif opt.startswith("--modules="):
            modules = opt.split("=", 1)[1]
        else:
            sys.stderr.write("python -m usdt: unknown option %s\n%s\n" % (opt, __doc__.strip()))
            return 2
    if not args or (args[0] == "-m" and len(args) < 2):
        sys.stderr.write(__doc__.strip() + "\n")
        return 2
    enable_runtime_probes(modules)
    if args[0] == "-m":
        sys.argv = args[1:]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = args[:]
        sys.path[0] = os.path.dirname(os.path.abspath(args[0]))
        runpy.run_path(args[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
