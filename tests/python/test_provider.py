"""usdt.Provider and usdt.Probe: definition, lifecycle, values, errors."""
import gc
import os
import sys
import tempfile
import threading
import unittest
import weakref

import usdt
from tracing import Bpftrace, need_bpftrace

I64_MIN, I64_MAX, U64_MAX = -2**63, 2**63 - 1, 2**64 - 1
WIDTHS = [(usdt.int8, -2**7, 2**7 - 1), (usdt.int16, -2**15, 2**15 - 1),
          (usdt.int32, -2**31, 2**31 - 1), (usdt.int64, I64_MIN, I64_MAX),
          (int, I64_MIN, I64_MAX), (usdt.uint8, 0, 2**8 - 1), (usdt.uint16, 0, 2**16 - 1),
          (usdt.uint32, 0, 2**32 - 1), (usdt.uint64, 0, U64_MAX)]


def mapped_images():
    """Paths of libusdt images mapped in this process (from /proc/self/maps)."""
    with open("/proc/self/maps") as f:
        return {l.split(None, 5)[5].strip() for l in f
                if len(l.split(None, 5)) == 6 and "usdt" in l.split(None, 5)[5]}


class TestProvider(unittest.TestCase):
    def test_define_load_fire_unload(self):
        app = usdt.Provider("pyt_basic")
        req = app.probe("request_start", int, str)
        self.assertFalse(app.loaded)
        self.assertIsNone(app.path)
        app.load()
        self.assertTrue(app.loaded)
        self.assertTrue(os.path.exists(app.path), app.path)
        self.assertFalse(req.enabled)
        self.assertIsNone(req.fire(42, "/index"))
        app.unload()
        self.assertFalse(app.loaded)
        self.assertFalse(req.enabled)

    def test_repr(self):
        app = usdt.Provider("pyt_repr")
        app.probe("a", int)
        app.probe("b")
        c = app.probe("c", str, usdt.uint8)
        self.assertEqual(repr(app), "<usdt.Provider 'pyt_repr' 3 probes unloaded>")
        with app:
            self.assertEqual(repr(app), "<usdt.Provider 'pyt_repr' 3 probes loaded path=%r>"
                             % app.path)
            self.assertEqual(repr(c), "<usdt.Probe pyt_repr:c(char *, uint8_t) loaded>")
        self.assertEqual(repr(c), "<usdt.Probe pyt_repr:c(char *, uint8_t) unloaded>")

    def test_fire_after_unload_raises(self):
        app = usdt.Provider("pyt_unl")
        p = app.probe("x", int)
        with self.assertRaises(usdt.ProbeError):
            p.fire(1)
        app.load()
        p.fire(1)
        app.unload()
        with self.assertRaises(usdt.ProbeError):
            p.fire(1)
        self.assertTrue(issubclass(usdt.ProbeError, RuntimeError))

    def test_types_map_to_c_names(self):
        app = usdt.Provider("pyt_types")
        p = app.probe("all", int, str, bytes, usdt.int8, usdt.int16, usdt.int32, usdt.int64,
                      usdt.uint8, usdt.uint16, usdt.uint32, usdt.uint64)
        self.assertEqual(p.types, ("int64_t", "char *", "char *", "int8_t", "int16_t",
                                   "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t",
                                   "uint64_t"))
        q = app.probe("cnames", "uint32_t", "const char *", "long")
        self.assertEqual(q.types, ("uint32_t", "char *", "int64_t"))
        self.assertEqual(app.probe("none").types, ())
        self.assertEqual(repr(usdt.uint64), "usdt.uint64")
        self.assertIsInstance(usdt.int8, usdt.ArgType)

    def test_bad_names_raise_valueerror(self):
        for bad in ["", "a b", "1abc", "a-b", "x" * 65, "caf\u00e9"]:
            with self.assertRaises(ValueError, msg=repr(bad)):
                usdt.Provider(bad)
        app = usdt.Provider("pyt_badnames")
        for bad in ["", "a b", "9", "x" * 65]:
            with self.assertRaises(ValueError, msg=repr(bad)):
                app.probe(bad)
        self.assertEqual(len(app), 0)
        with self.assertRaises(TypeError):
            app.probe(7)

    def test_bad_types_raise_valueerror_and_add_nothing(self):
        app = usdt.Provider("pyt_badtypes")
        app.probe("ok", int)
        for bad in [float, bool, None, object(), "nosuchtype", list]:
            with self.assertRaises(ValueError, msg=repr(bad)):
                app.probe("p", int, bad)
        with self.assertRaises(ValueError):
            app.probe("ok", int)  # duplicate
        with self.assertRaises(ValueError):
            app.probe("many", *([int] * 13))
        app.probe("twelve", *([int] * 12))
        self.assertEqual([p.name for p in app.probes], ["ok", "twelve"])

    def test_lifecycle_errors(self):
        app = usdt.Provider("pyt_life")
        with self.assertRaises(usdt.ProbeError):
            app.load()  # no probes
        self.assertFalse(app.loaded)
        app.probe("a", int)
        app.load()
        with self.assertRaises(usdt.ProbeError):
            app.load()
        with self.assertRaises(usdt.ProbeError):
            app.probe("b", int)
        self.assertEqual(len(app), 1)
        app.unload()
        with self.assertRaises(usdt.ProbeError):
            app.unload()
        # Unloaded again: probes may be added, and it loads again.
        app.probe("b", int)
        app.load()
        self.assertEqual(len(app), 2)
        app.unload()

    def test_probes_access(self):
        app = usdt.Provider("pyt_access")
        a = app.probe("a", int)
        b = app.probe("b", str)
        self.assertEqual(app.name, "pyt_access")
        self.assertEqual(app.probes, (a, b))
        self.assertIs(app["b"], b)
        self.assertEqual(len(app), 2)
        with self.assertRaises(KeyError):
            app["c"]
        self.assertIs(a.provider, app)
        self.assertEqual(a.name, "a")
        with app:
            self.assertTrue(a.argspec.startswith("-8@") or a.argspec.startswith("8@"),
                            a.argspec)

    def test_context_manager_loads_and_unloads(self):
        app = usdt.Provider("pyt_ctx")
        p = app.probe("x", int)
        with app as got:
            self.assertIs(got, app)
            self.assertTrue(app.loaded)
            path = app.path
            self.assertIn(path, mapped_images())
            p.fire(1)
        self.assertFalse(app.loaded)
        self.assertIsNone(app.path)  # unmapped once no fire can be running (libusdt)
        with self.assertRaises(usdt.ProbeError):
            p.fire(1)
        # An exception inside the block still unloads and propagates.
        with self.assertRaises(KeyError):
            with app:
                raise KeyError("x")
        self.assertFalse(app.loaded)

    def test_check_validates_without_tracer(self):
        app = usdt.Provider("pyt_check")
        probes = [(app.probe("w%d" % i, t), lo, hi) for i, (t, lo, hi) in enumerate(WIDTHS)]
        s = app.probe("s", str, bytes)
        for p, lo, hi in probes:
            p.check(lo)
            p.check(hi)
            with self.assertRaises(OverflowError, msg="%s %d" % (p, hi + 1)):
                p.check(hi + 1)
            with self.assertRaises(OverflowError, msg="%s %d" % (p, lo - 1)):
                p.check(lo - 1)
            for bad in [1.0, "1", b"1", None]:
                with self.assertRaises(TypeError, msg="%s %r" % (p, bad)):
                    p.check(bad)
        s.check("h\u00e9llo \u2713", b"\xff\x00x")
        with self.assertRaises(ValueError):
            s.check("a\0b", b"")  # a str with a NUL is refused, never cut
        s.check("\ud800", b"")  # lone surrogate: not UTF-8, fires NULL (as CPython 3.15)
        for bad in [(1, b""), ("a", 1), (None, b"")]:
            with self.assertRaises(TypeError, msg=repr(bad)):
                s.check(*bad)
        with self.assertRaises(TypeError):
            s.check("a")  # argument count
        with self.assertRaises(TypeError):
            s.check("a", b"", b"")

    def test_untraced_fire_ignores_arguments(self):
        # The fast path returns before looking at arguments (documented).
        app = usdt.Provider("pyt_untr")
        p = app.probe("x", usdt.uint8)
        with app:
            self.assertFalse(p.enabled)
            self.assertIsNone(p.fire(1000))
            self.assertIsNone(p.fire("not an int"))

    def test_probe_keeps_provider_alive(self):
        app = usdt.Provider("pyt_alive")
        p = app.probe("x", int)
        app.load()
        path = app.path
        ref = weakref.ref(app)
        del app
        gc.collect()
        self.assertIsNotNone(ref())
        self.assertTrue(p.provider.loaded)
        self.assertIn(path, mapped_images())
        p.fire(1)
        del p
        gc.collect()
        self.assertIsNone(ref())
        self.assertNotIn(path, mapped_images())

    def test_gc_of_provider_unloads(self):
        app = usdt.Provider("pyt_gc")
        app.probe("x", int)
        app.probe("y", str)
        app.load()
        path = app.path
        self.assertIn(path, mapped_images())
        ref = weakref.ref(app)
        cycle = [app]
        cycle.append(cycle)  # collected by the cycle collector, not by refcount
        del app
        del cycle
        gc.collect()
        self.assertIsNone(ref())
        self.assertNotIn(path, mapped_images())

    def test_from_d_text_and_file(self):
        text = ("/* comment */\nprovider pyt_dtext {\n"
                "  probe req__start(int64_t, char *);\n  probe done(uint8_t);\n};\n")
        d = usdt.Provider.from_d(text)
        self.assertEqual(d.name, "pyt_dtext")
        self.assertEqual([p.name for p in d.probes], ["req__start", "done"])
        self.assertEqual(d["req__start"].types, ("int64_t", "char *"))
        with d:
            d["req__start"].fire(1, "x")
        with tempfile.NamedTemporaryFile("w", suffix=".d", delete=False) as f:
            f.write(text.replace("pyt_dtext", "pyt_dfile"))
        try:
            df = usdt.Provider.from_d(f.name)
            self.assertEqual(df.name, "pyt_dfile")
            self.assertEqual(df["done"].types, ("uint8_t",))
        finally:
            os.unlink(f.name)
        two = "provider pyt_da { probe a(); };\nprovider pyt_db { probe b(int); };\n"
        self.assertEqual(usdt.Provider.from_d(two, provider="pyt_db").probes[0].name, "b")
        with self.assertRaises(ValueError):
            usdt.Provider.from_d(two)  # which one?

    def test_image_dir_and_memfd_fallback(self):
        d = tempfile.mkdtemp()
        try:
            os.chmod(d, 0o700)
            app = usdt.Provider("pyt_dir", dir=d)
            app.probe("x", int)
            with app:
                self.assertEqual(os.path.dirname(app.path), d)
                self.assertFalse(app.memfd)
            # No usable directory (not owned, not executable): a memfd image.
            mem = usdt.Provider("pyt_mem", dir="/proc")
            mem.probe("x", int)
            with mem:
                self.assertTrue(mem.memfd)
                self.assertRegex(mem.path, r"^/proc/%d/fd/\d+$" % os.getpid())
                mem["x"].fire(1)
        finally:
            for n in os.listdir(d):
                os.unlink(os.path.join(d, n))
            os.rmdir(d)

    def test_from_d_bytes(self):
        d = usdt.Provider.from_d(b"provider pyt_dbytes { probe a(int, char *); };")
        self.assertEqual((d.name, d["a"].types), ("pyt_dbytes", ("int32_t", "char *")))

    def test_from_d_errors_leave_nothing_loaded(self):
        before = mapped_images()
        with self.assertRaises(ValueError) as cm:
            usdt.Provider.from_d("provider pyt_dbad { probe a(int) };")
        self.assertIn("1:", str(cm.exception))
        with self.assertRaises(ValueError):
            usdt.Provider.from_d("provider pyt_dbad { probe a(float); };")
        with self.assertRaises(FileNotFoundError):
            usdt.Provider.from_d("/nonexistent/dir/x.d")
        app = usdt.Provider("pyt_badload")
        with self.assertRaises(ValueError):
            app.probe("p", 3.5)
        with self.assertRaises(usdt.ProbeError):
            app.load()
        self.assertEqual(mapped_images(), before)


class TestTraced(unittest.TestCase):
    """One bpftrace session attached to several probes; each test fires and checks."""

    @classmethod
    def setUpClass(cls):
        need_bpftrace(cls)
        app = cls.app = usdt.Provider("pyt_vals")
        cls.s = app.probe("s", usdt.int8, usdt.int16, usdt.int32, usdt.int64, int)
        cls.u = app.probe("u", usdt.uint8, usdt.uint16, usdt.uint32, usdt.uint64)
        cls.t = app.probe("t", int, str, bytes)
        cls.th = app.probe("th", int, int)
        cls.n = app.probe("n", int, str)
        cls.off = app.probe("off", int)  # never attached
        app.load()
        p = app.path
        prog = ('usdt:{p}:pyt_vals:s {{ printf("S %d %d %d %ld %ld\\n", arg0, arg1, arg2,'
                ' arg3, arg4); }}'
                ' usdt:{p}:pyt_vals:u {{ printf("U %u %u %u %lu\\n", arg0, arg1, arg2, arg3); }}'
                ' usdt:{p}:pyt_vals:t {{ printf("T %ld|%s|%s|\\n", arg0, str(arg1),'
                ' str(arg2)); }}'
                ' usdt:{p}:pyt_vals:th {{ printf("H %ld %ld\\n", arg0, arg1); }}'
                ' usdt:{p}:pyt_vals:n {{ printf("N %ld %lu %s\\n", arg0, arg1,'
                ' arg1 ? str(arg1) : "-"); }}').format(p=p)
        cls.tracer = Bpftrace(prog, os.getpid())
        try:
            cls.tracer.wait_ready()
        except BaseException:
            cls.tracer.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.tracer.stop()
        cls.app.unload()

    def lines(self, prefix, n):
        self.tracer.wait_for(lambda l: False if not l.startswith(prefix) else
                             sum(1 for x in self.tracer.lines if x and x.startswith(prefix)) >= n)
        return [l for l in self.tracer.lines if l and l.startswith(prefix)]

    def test_enabled_only_where_attached(self):
        self.assertTrue(self.s.enabled)
        self.assertTrue(self.th.enabled)
        self.assertFalse(self.off.enabled)

    def test_signed_extremes_exact(self):
        self.s.fire(-2**7, -2**15, -2**31, I64_MIN, I64_MAX)
        self.s.fire(2**7 - 1, 2**15 - 1, 2**31 - 1, I64_MAX, I64_MIN)
        self.s.fire(-1, 0, 1, -1, 0)
        self.assertEqual(self.lines("S ", 3), [
            "S -128 -32768 -2147483648 %d %d" % (I64_MIN, I64_MAX),
            "S 127 32767 2147483647 %d %d" % (I64_MAX, I64_MIN),
            "S -1 0 1 -1 0"])

    def test_unsigned_extremes_exact(self):
        self.u.fire(255, 65535, 2**32 - 1, U64_MAX)
        self.u.fire(0, 0, 0, 0)
        self.u.fire(1, 2, 3, 2**63)
        self.assertEqual(self.lines("U ", 3), [
            "U 255 65535 4294967295 %d" % U64_MAX, "U 0 0 0 0", "U 1 2 3 %d" % 2**63])

    def test_strings_unicode_and_bytes(self):
        self.t.fire(1, "h\u00e9llo \u2713 \u65e5\u672c \U0001f600", b"raw\xc3\xa9")
        self.t.fire(2, "", b"")
        self.t.fire(3, "ascii", b"ab\0cd")  # bytes go as they are: the tracer stops at NUL
        got = self.lines("T ", 3)
        self.assertEqual(got, ["T 1|h\u00e9llo \u2713 \u65e5\u672c \U0001f600|raw\u00e9|",
                               "T 2|||", "T 3|ascii|ab|"])

    def test_unencodable_str_fires_null_and_raises_nothing(self):
        """A str with a lone surrogate (os.fsdecode of a non-UTF-8 name) has no
        UTF-8: the tracer gets NULL, as CPython 3.15 gives its own probes, and
        fire neither raises nor disturbs an exception being handled."""
        self.n.fire(1, "bad\udc80name")
        self.n.fire(2, "\ud800")
        try:
            raise KeyError("kept")
        except KeyError as e:
            self.n.fire(3, "x\udcff")
            self.assertIs(sys.exc_info()[1], e)
        self.n.fire(4, "fine")
        self.assertEqual(self.lines("N ", 4)[:3], ["N 1 0 -", "N 2 0 -", "N 3 0 -"])
        self.assertRegex(self.lines("N ", 4)[3], r"^N 4 [1-9]\d* fine$")

    def test_bad_values_raise_while_traced(self):
        with self.assertRaises(OverflowError):
            self.s.fire(128, 0, 0, 0, 0)
        with self.assertRaises(OverflowError):
            self.u.fire(-1, 0, 0, 0)
        with self.assertRaises(OverflowError):
            self.s.fire(0, 0, 0, 0, 2**63)
        with self.assertRaises(TypeError):
            self.s.fire(0, 0, 0, 0, 1.5)
        with self.assertRaises(TypeError):
            self.t.fire(1, 2, b"")
        with self.assertRaises(ValueError):
            self.t.fire(9, "a\0b", b"")
        with self.assertRaises(TypeError):
            self.t.fire(9, "x")

    def test_threads(self):
        nthreads, per = 4, 50

        def work(i):
            for k in range(per):
                self.th.fire(i, k)

        ts = [threading.Thread(target=work, args=(i,)) for i in range(nthreads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        got = self.lines("H ", nthreads * per)
        self.assertEqual(sorted(got), sorted("H %d %d" % (i, k) for i in range(nthreads)
                                             for k in range(per)))


class TestFork(unittest.TestCase):
    def test_child_fires_after_fork(self):
        need_bpftrace(self)
        app = usdt.Provider("pyt_fork")
        p = app.probe("child", int)
        app.load()
        go_r, go_w = os.pipe()
        pid = cpid = os.fork()
        if pid == 0:  # child: wait until traced, then fire with its pid
            try:
                os.close(go_w)
                os.read(go_r, 1)
                ok = p.enabled
                for _ in range(3):
                    p.fire(os.getpid())
                app.unload()
                os._exit(0 if ok else 3)
            except BaseException:
                os._exit(4)
        os.close(go_r)
        try:
            t = Bpftrace('usdt:%s:pyt_fork:child { printf("C %%d %%ld\\n", pid, arg0); }'
                         % app.path, pid)
            with t:
                t.wait_ready()
                os.write(go_w, b"x")
                t.wait_for(lambda l: sum(1 for x in t.lines if x and x.startswith("C ")) >= 3)
            _, status = os.waitpid(pid, 0)
            pid = 0
            self.assertEqual(os.WEXITSTATUS(status), 0, "child saw probe disabled")
            self.assertEqual([l for l in t.lines if l and l.startswith("C ")],
                             ["C %d %d" % (cpid, cpid)] * 3)
        finally:
            os.close(go_w)
            if pid:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            app.unload()


if __name__ == "__main__":
    unittest.main()
