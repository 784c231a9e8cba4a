"""Build the usdt extension: python-ext/src/*.c plus libusdt, linked statically.

Metadata is in pyproject.toml; this file holds what it cannot say: the
extension and the commands below.

libusdt comes from LIBUSDT_A (a libusdt.a built with -fPIC, as `make` does) when
set, else its sources are compiled in: $LIBUSDT_SRC, else the copy an sdist
carries (./libusdt, put there by the sdist command below, never kept in git),
else ../libusdt of the source tree. Either way no libusdt symbol is exported
from the extension.
"""
import fnmatch
import glob
import os
import shutil
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.command.install import install
from setuptools.command.sdist import sdist

here = os.path.dirname(os.path.abspath(__file__))
# Paths given by the caller are taken as given from where it ran; then the
# build runs from here, as pip does, since setuptools wants the sources'
# paths relative to setup.py's directory (an absolute one recorded in an
# sdist's SOURCES.txt stops the wheel build from that sdist).
env_paths = {k: os.path.abspath(os.environ[k]) for k in
             ("LIBUSDT_SRC", "LIBUSDT_A", "USDT_EXT_BUILD_BASE") if os.environ.get(k)}
os.chdir(here)
# Only these parts of libusdt are compiled into the extension, so only they
# travel in the sdist.
LIBUSDT_PARTS = ("include", "src")


def find_libusdt():
    tried = [env_paths["LIBUSDT_SRC"]] if "LIBUSDT_SRC" in env_paths else [
        os.path.join(here, "libusdt"), os.path.normpath(os.path.join(here, "..", "libusdt"))]
    for d in tried:
        # Both parts: an sdist missing src/ would otherwise build an extension
        # that fails at import on libusdt's undefined symbols.
        if os.path.isfile(os.path.join(d, "include", "usdt.h")) and \
                glob.glob(os.path.join(d, "src", "*.c")):
            return d
    raise SystemExit("setup.py: libusdt sources (include/usdt.h, src/*.c) not found in %s; "
                     "set LIBUSDT_SRC to a libusdt directory" % " nor ".join(tried))


root = find_libusdt()


def rel(paths):
    return sorted(os.path.relpath(p, here) for p in paths)


# USDT_EXT_EXCLUDE: glob patterns of src files to leave out (a debugging aid).
skip = os.environ.get("USDT_EXT_EXCLUDE", "").split()
sources = rel(p for p in glob.glob(os.path.join(here, "src", "*.c"))
              if not any(fnmatch.fnmatch(os.path.basename(p), pat) for pat in skip))
extra_objects = []
libusdt_a = env_paths.get("LIBUSDT_A")
if libusdt_a:
    extra_objects.append(libusdt_a)
else:
    sources += rel(glob.glob(os.path.join(root, "src", "*.c")))

ext = Extension(
    "usdt._usdt",
    sources=sources,
    include_dirs=rel([os.path.join(root, "include"), os.path.join(root, "src"),
                      os.path.join(here, "src")]),
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
if "USDT_EXT_BUILD_BASE" in env_paths:
    options["build"] = {"build_base": env_paths["USDT_EXT_BUILD_BASE"]}


class build_ext_no_rpath(build_ext):
    """Link without the run path an interpreter built with --enable-shared
    puts into its LDSHARED (pyenv's: -Wl,-rpath,<its prefix>/lib): the
    extension needs no library of that prefix, and a wheel must not point
    into the machine that built it."""

    def build_extensions(self):
        self.compiler.linker_so = [a for a in self.compiler.linker_so
                                   if not a.startswith(("-Wl,-rpath", "-Wl,-R"))]
        super().build_extensions()


class build_py_pth(build_py):
    """Also install usdt-runtime.pth next to the package: with it,
    USDT_RUNTIME_PROBES=1 turns on the runtime probes at interpreter start."""

    def run(self):
        super().run()
        self.copy_file(os.path.join(here, "usdt-runtime.pth"),
                       os.path.join(self.build_lib, "usdt-runtime.pth"))


class sdist_with_libusdt(sdist):
    """Put libusdt's include/ and src/ into the sdist as ./libusdt, so that it
    builds anywhere (pip on another machine has no ../libusdt). The
    extension's sources from ../libusdt are left out of the file list, which
    cannot hold paths outside this directory; their copy replaces them."""

    def make_release_tree(self, base_dir, files):
        files = [f for f in files if not f.startswith(".." + os.sep)]
        super().make_release_tree(base_dir, files)
        for part in LIBUSDT_PARTS:
            dest = os.path.join(base_dir, "libusdt", part)
            if os.path.exists(dest):  # building from an sdist: its own copy
                shutil.rmtree(dest)
            shutil.copytree(os.path.join(root, part), dest,
                            ignore=shutil.ignore_patterns("*.o", "*.a", "*.so"))


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
    cmdclass={"build_ext": build_ext_no_rpath, "build_py": build_py_pth,
              "install": install_any_layout, "sdist": sdist_with_libusdt},
    options=options,
    packages=["usdt"],
    ext_modules=[ext],
)
