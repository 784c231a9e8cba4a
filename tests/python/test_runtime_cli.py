"""Turning the runtime probes on: python -m usdt (script and -m module, with
runpy semantics), usdt.enable_runtime_probes(), USDT_RUNTIME_PROBES through
usdt-runtime.pth. No tracer needed."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PTH = os.path.join(ROOT, "python-ext", "usdt-runtime.pth")

SHOW = """import sys, json, usdt.runtime as r
s = r.runtime_probes_state()
print("OUT " + json.dumps({"argv": sys.argv, "name": __name__, "active": s["active"],
                           "modules": s["modules"], "path": s["path"]}))
"""


def run(args, env=None, cwd=None):
    e = dict(os.environ)
    e.update(env or {})
    out = subprocess.run([sys.executable] + args, stdout=subprocess.PIPE, env=e, cwd=cwd,
                         universal_newlines=True, timeout=60, check=True).stdout
    return json.loads([l for l in out.splitlines() if l.startswith("OUT ")][-1][4:])


class RuntimeCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        with open(os.path.join(d, "prog.py"), "w") as f:
            f.write(SHOW)
        os.makedirs(os.path.join(d, "pkg"))
        open(os.path.join(d, "pkg", "__init__.py"), "w").close()
        with open(os.path.join(d, "pkg", "__main__.py"), "w") as f:
            f.write(SHOW)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_script(self):
        prog = os.path.join(self.tmp.name, "prog.py")
        r = run(["-m", "usdt", "--modules", "a,b.c", prog, "x", "-m", "y"])
        self.assertEqual(r["argv"], [prog, "x", "-m", "y"])
        self.assertEqual(r["name"], "__main__")
        self.assertTrue(r["active"])
        self.assertEqual(r["modules"], ["a", "b.c"])
        self.assertTrue(r["path"].endswith(".so") or r["path"].startswith("/proc/"), r)

    def test_module(self):
        r = run(["-m", "usdt", "-m", "pkg", "x", "y"], cwd=self.tmp.name)
        self.assertEqual(r["argv"][1:], ["x", "y"])
        self.assertTrue(r["argv"][0].endswith(os.path.join("pkg", "__main__.py")), r)
        self.assertEqual(r["name"], "__main__")
        self.assertTrue(r["active"])
        self.assertIsNone(r["modules"])

    def test_env_var_through_pth(self):
        code = "import site; site.addsitedir(%r)\n" % os.path.dirname(PTH) + SHOW
        # site.addsitedir reads every *.pth of the directory: ours is the only one.
        r = run(["-c", code], env={"USDT_RUNTIME_PROBES": "1", "USDT_RUNTIME_MODULES": "m1,m2"})
        self.assertTrue(r["active"])
        self.assertEqual(r["modules"], ["m1", "m2"])
        r = run(["-c", code], env={"USDT_RUNTIME_PROBES": "0"})
        self.assertFalse(r["active"])

    def test_api_and_disable(self):
        import usdt
        import usdt.runtime as rt
        path = usdt.enable_runtime_probes("json")
        try:
            s = rt.runtime_probes_state()
            self.assertTrue(s["active"])
            self.assertEqual(list(s["modules"]), ["json"])
            self.assertEqual(path, usdt.runtime_probes_path())
            self.assertEqual(s["error"], "")
            for fam in ("function", "instance", "gc", "import", "audit"):
                self.assertFalse(s[fam], fam)
        finally:
            usdt.disable_runtime_probes()
        s = rt.runtime_probes_state()
        self.assertFalse(s["active"])
        self.assertIsNone(s["path"])


if __name__ == "__main__":
    unittest.main()
