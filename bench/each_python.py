"""Run a benchmark script once per interpreter (scripts/with-python NAME),
with an environment variable telling the script it is the child. The
interpreters come from USDT_BENCH_PYTHONS (default: every pyenv 3.8-3.13 and
Debian's python3)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHONS = "3.8 3.9 3.10 3.11 3.12 3.13 deb"


def run_each(script, var, value):
    """Run script under each interpreter with var=value; its stdout is passed
    on as it comes. Returns 0, or 1 if any run failed."""
    status = 0
    name = os.path.basename(script)
    for py in os.environ.get("USDT_BENCH_PYTHONS", PYTHONS).split():
        env = dict(os.environ, **{var: value})
        r = subprocess.run([os.path.join(ROOT, "scripts", "with-python"), py,
                            os.path.abspath(script)], env=env, cwd=ROOT,
                           stdout=subprocess.PIPE, universal_newlines=True)
        sys.stdout.write(r.stdout)
        sys.stdout.flush()
        if r.returncode:
            sys.stderr.write("%s: %s exited %d\n" % (name, py, r.returncode))
            status = 1
    return status


def py_tag():
    """The figure prefix for this interpreter: py3.X, or pydeb for the host's
    /usr/bin/python3 (Debian's 3.11); the sid root's /usr/bin/python3.14 and
    python3.15 are py3.14 and py3.15."""
    if sys.executable == "/usr/bin/python3" and sys.version_info[:2] == (3, 11):
        return "pydeb"
    return "py%d.%d" % sys.version_info[:2]
