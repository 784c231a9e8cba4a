"""pip install --no-build-isolation ./python-ext gives a working, self-contained usdt."""
import importlib.util
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# pip's PEP 517 build needs setuptools and wheel in the interpreter; only
# Debian's python3 has both here, so the test exists only there (or with
# USDT_TEST_INSTALL_ALL=1 where they are installed).
@unittest.skipUnless(importlib.util.find_spec("setuptools") and importlib.util.find_spec("wheel")
                     and (os.environ.get("USDT_PY_TAG", "").endswith("-deb")
                          or os.environ.get("USDT_TEST_INSTALL_ALL") == "1"), "not run here")
class TestInstall(unittest.TestCase):
    def test_pip_install_target(self):
        if not importlib.util.find_spec("setuptools") or not importlib.util.find_spec("wheel"):
            self.skipTest("pip's PEP 517 build needs setuptools and wheel in this interpreter")
        if os.environ.get("USDT_PY_TAG", "").endswith("-deb") is False and \
                os.environ.get("USDT_TEST_INSTALL_ALL") != "1":
            self.skipTest("run on Debian's python3 only (USDT_TEST_INSTALL_ALL=1 for all)")
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ)
            env.pop("PYTHONPATH", None)
            env.pop("LIBUSDT_A", None)
            env["USDT_EXT_BUILD_BASE"] = os.path.join(d, "build")
            r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index",
                                "--no-build-isolation", "--target", d,
                                os.path.join(ROOT, "python-ext")],
                               env=env, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stdout[-2000:])
            env["PYTHONPATH"] = d
            code = ("import usdt; p = usdt.Provider('pyt_inst'); x = p.probe('x', int); "
                    "p.load(); x.fire(1); print(usdt.__file__, usdt._usdt.__file__)")
            r = subprocess.run([sys.executable, "-c", code], env=env, cwd=d,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            self.assertEqual(r.returncode, 0, r.stdout)
            files = r.stdout.split()
            self.assertTrue(all(f.startswith(d) for f in files), files)
            # Only the module's init function is exported: libusdt is linked in hidden.
            nm = subprocess.run(["nm", "-D", "--defined-only", files[1]],
                                stdout=subprocess.PIPE, text=True).stdout
            exported = sorted(l.split()[-1] for l in nm.splitlines() if " T " in l)
            self.assertEqual(exported, ["PyInit__usdt"])


if __name__ == "__main__":
    unittest.main()
