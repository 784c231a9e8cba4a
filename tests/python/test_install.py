"""The Python distribution `libusdt` as a user gets it: scripts/python-dist
(what `make python-dist` runs) builds the sdist, and from it, through pip's
build isolation fed from Debian's wheels only, this interpreter's manylinux
wheel; the wheel goes into a fresh venv with pip --no-index, and there, away
from the source tree, an app probe and the runtime probes (turned on by
usdt-runtime.pth) are traced by real bpftrace and `python -m usdt` runs."""
import glob
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import unittest

from tracing import Bpftrace, need_bpftrace

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Run inside the venv: an app probe, the runtime provider from the .pth, and
# a function whose entry the runtime probes report. Fires both until told to
# stop, so the test waits for events, not for a guessed attach time.
APP = r'''
import json, os, sys, threading, usdt, usdt.runtime
def inst_marker_fn(n):
    return n + 1
p = usdt.Provider("pyinst")
ping = p.probe("ping", int, str)
p.load()
s = usdt.runtime.runtime_probes_state()
print("STARTED " + json.dumps({"pid": os.getpid(), "app": p.path, "rt": s["path"],
      "active": s["active"], "ours": list(s["probes"]), "usdt": usdt.__file__,
      "exe": os.path.realpath(sys.executable)}), flush=True)
sys.stdin.readline()  # "go": bpftrace is attached
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
while not stop.wait(0.02):  # until the test closes stdin
    ping.fire(42, "inst-tag")
    inst_marker_fn(1)
'''


def clean_env():
    """The environment of a user's shell: nothing pointing into the tree, and
    none of the sanitizer level's build flags or preloads (tests/san runs this
    file too: a wheel built with ASan needs libasan, which no manylinux
    system has, and is rightly refused by the tag check)."""
    env = dict(os.environ)
    for k in ("PYTHONPATH", "LIBUSDT_A", "LIBUSDT_SRC", "USDT_EXT_BUILD_BASE",
              "USDT_RUNTIME_PROBES", "USDT_RUNTIME_MODULES",
              "CFLAGS", "CPPFLAGS", "LDFLAGS", "LD_PRELOAD"):
        env.pop(k, None)
    return env


class TestInstall(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.dist = os.path.join(d, "dist")
        r = subprocess.run([os.path.join(ROOT, "scripts", "python-dist"), "-o", cls.dist,
                            sys.executable], env=clean_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        if r.returncode != 0:
            raise AssertionError("scripts/python-dist failed: " + r.stdout[-3000:])
        cls.sdist = glob.glob(os.path.join(cls.dist, "*.tar.gz"))[0]
        cls.wheel = glob.glob(os.path.join(cls.dist, "*.whl"))[0]
        venv = os.path.join(d, "venv")
        cls.py = os.path.join(venv, "bin", "python")
        cls.cwd = os.path.join(d, "elsewhere")  # neither the tree nor the dist
        os.mkdir(cls.cwd)
        # The venv gets no pip of its own (ensurepip costs seconds per
        # interpreter): this interpreter's pip installs into it.
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True,
                       env=clean_env())
        r = subprocess.run([sys.executable, "-m", "pip", "--python", cls.py, "install", "-q",
                            "--no-index", "--disable-pip-version-check", cls.wheel], env=clean_env(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, cwd=cls.cwd)
        if r.returncode != 0:
            raise AssertionError("pip install of the wheel failed: " + r.stdout[-3000:])
        cls.site = subprocess.run([cls.py, "-c", "import sysconfig; print(sysconfig.get_path('platlib'))"],
                                  stdout=subprocess.PIPE, universal_newlines=True, check=True,
                                  env=clean_env()).stdout.strip()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_py(self, args, env=None):
        e = clean_env()
        e.update(env or {})
        return subprocess.run([self.py] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, env=e, cwd=self.cwd, timeout=60)

    def test_sdist_carries_libusdt(self):
        with tarfile.open(self.sdist) as t:
            names = t.getnames()
        top = names[0].split("/")[0]
        self.assertEqual(top, "libusdt-0.1.0")
        self.assertFalse([n for n in names if ".." in n.split("/")], names)
        inside = {n[len(top) + 1:] for n in names}
        want = {"pyproject.toml", "setup.py", "usdt-runtime.pth", "libusdt/include/usdt.h",
                "usdt/__init__.py"}
        want |= {os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "libusdt", "src", "*.[ch]"))}
        want |= {"src/" + os.path.basename(p)
                 for p in glob.glob(os.path.join(ROOT, "python-ext", "src", "*.[ch]"))}
        self.assertEqual(sorted(want - inside), [])

    def test_wheel_is_manylinux_and_self_contained(self):
        name = os.path.basename(self.wheel)
        tag = "cp%d%d" % sys.version_info[:2]
        m = re.fullmatch(r"libusdt-0\.1\.0-%s-%s-manylinux_2_(\d+)_(\w+)\.whl" % (tag, tag), name)
        self.assertTrue(m, name)
        so = glob.glob(os.path.join(self.site, "usdt", "_usdt*.so"))
        self.assertEqual(len(so), 1, so)
        # Read apart from scripts/wheel-manylinux (objdump, not readelf): the
        # highest glibc version among the symbols is the one the tag names.
        syms = subprocess.run(["objdump", "-T", so[0]], stdout=subprocess.PIPE,
                              universal_newlines=True, check=True).stdout
        vers = set(re.findall(r"\((GLIBC_[\d.]+)\)", syms))
        self.assertTrue(vers, syms[:2000])
        highest = max(tuple(int(x) for x in v[len("GLIBC_"):].split(".")) for v in vers)
        self.assertEqual(highest[:2], (2, int(m.group(1))), sorted(vers))
        self.assertEqual(set(re.findall(r"\s\(([A-Z]+)_[\d.]+\)", syms)) - {"GLIBC"}, set())
        dyn = subprocess.run(["readelf", "-dW", so[0]], stdout=subprocess.PIPE,
                             universal_newlines=True, check=True).stdout
        needed = set(re.findall(r"Shared library: \[([^\]]+)\]", dyn))
        self.assertLessEqual(needed, {"libc.so.6", "libdl.so.2", "libpthread.so.0",
                                      "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"})
        self.assertNotRegex(dyn, r"RPATH|RUNPATH")
        # libusdt is linked in: what the module takes from elsewhere is
        # CPython's (unversioned, from the interpreter) or glibc's.
        und = subprocess.run(["nm", "-D", "--undefined-only", so[0]], stdout=subprocess.PIPE,
                             universal_newlines=True, check=True).stdout.split("\n")
        foreign = [l.split()[-1] for l in und if " U " in l and "@" not in l
                   and not l.split()[-1].startswith(("Py", "_Py"))]
        self.assertEqual(foreign, [])
        # Only the module's init function is exported: libusdt is linked in hidden.
        nm = subprocess.run(["nm", "-D", "--defined-only", so[0]],
                            stdout=subprocess.PIPE, universal_newlines=True).stdout
        self.assertEqual(sorted(l.split()[-1] for l in nm.splitlines() if " T " in l),
                         ["PyInit__usdt"])

    def test_installed_metadata_and_files(self):
        r = self.run_py(["-c", "import usdt, usdt._usdt, importlib.metadata as m; "
                         "print(usdt.__file__, usdt._usdt.__file__, m.version('libusdt'), "
                         "usdt.__version__)"])
        self.assertEqual(r.returncode, 0, r.stdout)
        f1, f2, dist_version, version = r.stdout.split()
        self.assertTrue(f1.startswith(self.site) and f2.startswith(self.site), r.stdout)
        self.assertEqual(dist_version, version)
        self.assertTrue(os.path.isfile(os.path.join(self.site, "usdt-runtime.pth")))

    def test_python_m_usdt(self):
        prog = os.path.join(self.cwd, "m_prog.py")
        with open(prog, "w") as f:
            f.write("import sys, usdt.runtime as r\n"
                    "print('MUSDT', r.runtime_probes_state()['active'], sys.argv[1:])\n")
        r = self.run_py(["-m", "usdt", prog, "a", "-b"])
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("MUSDT True ['a', '-b']", r.stdout)

    def test_traced_in_venv(self):
        """bpftrace sees the app probe and the runtime provider's
        function__entry (USDT_RUNTIME_PROBES=1, read by the installed .pth)."""
        need_bpftrace(self)
        env = clean_env()
        env["USDT_RUNTIME_PROBES"] = "1"
        env["USDT_DIR"] = os.path.join(self.tmp.name, "images")
        os.makedirs(env["USDT_DIR"], exist_ok=True)
        p = subprocess.Popen([self.py, "-u", "-c", APP], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, env=env, cwd=self.cwd,
                             universal_newlines=True)
        try:
            line = p.stdout.readline()
            self.assertTrue(line.startswith("STARTED "), line)
            st = json.loads(line[len("STARTED "):])
            self.assertTrue(st["active"], st)
            self.assertTrue(st["usdt"].startswith(self.site), st)
            # On an interpreter built with dtrace, function__entry is its own.
            rt = st["rt"] if "function__entry" in st["ours"] else st["exe"]
            script = ('usdt:%s:pyinst:ping { printf("INST app %%d %%s\\n", arg0, str(arg1)); } '
                      'usdt:%s:python:function__entry /str(arg1) == "inst_marker_fn"/ '
                      '{ printf("INST rt %%s\\n", str(arg1)); }' % (st["app"], rt))
            with Bpftrace(script, pid=st["pid"]) as bt:
                bt.wait_ready()
                p.stdin.write("go\n")
                p.stdin.flush()
                bt.wait_for(lambda l: l == "INST app 42 inst-tag", timeout=20)
                bt.wait_for(lambda l: l == "INST rt inst_marker_fn", timeout=20)
        finally:
            p.stdin.close()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            p.stdout.close()


if __name__ == "__main__":
    unittest.main()
