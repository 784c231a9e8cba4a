"""usdt.Provider and usdt.Probe: definition, lifecycle, values, errors."""
import gc
import os
import sys
import unittest
import weakref

import usdt
from tracing import Bpftrace, need_bpftrace


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


if __name__ == "__main__":
    unittest.main()
