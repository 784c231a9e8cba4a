"""pip install --no-build-isolation ./python-ext gives a working, self-contained usdt."""
import glob
import os
import subprocess
import sys
import tempfile
import unittest
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WHEELS = "/usr/share/python-wheels"  # Debian's python3-{setuptools,wheel}-whl


def lend_build_deps(into):
    """Give pip's in-place build (--no-build-isolation) setuptools and wheel:
    unpack Debian's wheels of those the interpreter lacks into `into` (pyenv
    3.12/3.13 ship neither, older ones lack wheel). Unpacked, not imported as
    zips: pkg_resources must find their metadata. False if one is missing."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # what the interpreter has of its own
    for mod in ("setuptools", "wheel"):
        if subprocess.call([sys.executable, "-c", "import " + mod], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
            continue
        found = sorted(glob.glob(os.path.join(WHEELS, mod + "-*.whl")))
        if not found:
            return False
        with zipfile.ZipFile(found[-1]) as z:
            z.extractall(into)
    return True


class TestInstall(unittest.TestCase):
    def test_pip_install_target(self):
        """pip install --no-build-isolation ./python-ext into a directory gives a
        usdt that works from there alone, exporting only its init function."""
        with tempfile.TemporaryDirectory() as d:
            deps = os.path.join(d, "build-deps")
            if not lend_build_deps(deps):
                self.skipTest("no setuptools/wheel for pip's build: install Debian's "
                              "python3-setuptools-whl and python3-wheel-whl (make deps does)")
            env = dict(os.environ)
            env.pop("LIBUSDT_A", None)
            env["PYTHONPATH"] = deps
            target = os.path.join(d, "site")
            env["USDT_EXT_BUILD_BASE"] = os.path.join(d, "build")
            r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index",
                                "--no-build-isolation", "--target", target,
                                os.path.join(ROOT, "python-ext")],
                               env=env, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stdout[-2000:])
            env["PYTHONPATH"] = target
            code = ("import usdt; p = usdt.Provider('pyt_inst'); x = p.probe('x', int); "
                    "p.load(); x.fire(1); print(usdt.__file__, usdt._usdt.__file__)")
            r = subprocess.run([sys.executable, "-c", code], env=env, cwd=d,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            self.assertEqual(r.returncode, 0, r.stdout)
            files = r.stdout.split()
            self.assertTrue(all(f.startswith(target) for f in files), files)
            # Only the module's init function is exported: libusdt is linked in hidden.
            nm = subprocess.run(["nm", "-D", "--defined-only", files[1]],
                                stdout=subprocess.PIPE, text=True).stdout
            exported = sorted(l.split()[-1] for l in nm.splitlines() if " T " in l)
            self.assertEqual(exported, ["PyInit__usdt"])


if __name__ == "__main__":
    unittest.main()
