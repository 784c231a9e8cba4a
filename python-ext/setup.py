"""Build the usdt extension: python-ext/src/*.c plus libusdt, linked statically.

libusdt comes from LIBUSDT_A (a libusdt.a built with -fPIC, as `make` does) when
set, else its sources (../libusdt/src/*.c, or $LIBUSDT_SRC) are compiled in.
Either way no libusdt symbol is exported from the extension.
"""
import fnmatch
import glob
import os
from setuptools import Extension, setup
from setuptools.command.build_py import build_py
from setuptools.command.install import install

here = os.path.dirname(os.path.abspath(__file__))
root = os.environ.get("LIBUSDT_SRC") or os.path.join(here, "..", "libusdt")
if not os.path.isfile(os.path.join(root, "include", "usdt.h")):
    raise SystemExit("setup.py: libusdt sources not found at %s (set LIBUSDT_SRC)" % root)


def rel(paths):
    # Absolute: setup.py may run from any directory (make, pip, with-python).
    return sorted(os.path.abspath(p) for p in paths)


# USDT_EXT_EXCLUDE: glob patterns of src files to leave out (a debugging aid).
skip = os.environ.get("USDT_EXT_EXCLUDE", "").split()
sources = rel(p for p in glob.glob(os.path.join(here, "src", "*.c"))
              if not any(fnmatch.fnmatch(os.path.basename(p), pat) for pat in skip))
extra_objects = []
libusdt_a = os.environ.get("LIBUSDT_A")
if libusdt_a:
    extra_objects.append(os.path.abspath(libusdt_a))
else:
    sources += rel(glob.glob(os.path.join(root, "src", "*.c")))

ext = Extension(
    "usdt._usdt",
    sources=sources,
    include_dirs=[os.path.join(root, "include"), os.path.join(root, "src"),
                  os.path.join(here, "src")],
    define_macros=[("_GNU_SOURCE", None), ("USDT_STATIC_BUILD", None)],
    extra_compile_args=["-std=gnu11", "-fvisibility=hidden", "-O2",
                        "-Wno-missing-field-initializers", "-Wno-unused-parameter"],
    extra_link_args=["-Wl,--exclude-libs,ALL"],
    extra_objects=extra_objects,
    libraries=["dl", "pthread"],
    depends=rel(glob.glob(os.path.join(here, "src", "*.h"))),
)

# USDT_EXT_BUILD_BASE: where setuptools builds (default ./build), so parallel
# builds of one source tree need not share a directory.
options = {}
if os.environ.get("USDT_EXT_BUILD_BASE"):
    options["build"] = {"build_base": os.environ["USDT_EXT_BUILD_BASE"]}



class build_py_pth(build_py):
    """Also install usdt-runtime.pth next to the package: with it,
    USDT_RUNTIME_PROBES=1 turns on the runtime probes at interpreter start."""

    def run(self):
        super().run()
        self.copy_file(os.path.join(here, "usdt-runtime.pth"),
                       os.path.join(self.build_lib, "usdt-runtime.pth"))


class install_any_layout(install):
    """Debian's setuptools (its wheel is how pyenv 3.12+ gets one offline)
    reads install.install_layout and prefix_option, which only Debian's own
    distutils defines."""

    def initialize_options(self):
        super().initialize_options()
        for name in ("install_layout", "prefix_option"):
            if not hasattr(self, name):
                setattr(self, name, None)


setup(
    name="usdt",
    cmdclass={"build_py": build_py_pth, "install": install_any_layout},
    options=options,
    version="0.1.0",
    description="USDT probes defined at run time, and @fbt function probes (libusdt)",
    packages=["usdt"],
    package_dir={"usdt": os.path.relpath(os.path.join(here, "usdt"))},
    ext_modules=[ext],
    python_requires=">=3.8",
)
