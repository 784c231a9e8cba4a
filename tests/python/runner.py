#!/usr/bin/env python3
"""Run tests/python/test_*.py with unittest; print PASS/FAIL/SKIP lines.

Run through scripts/with-python, which sets PYTHONPATH and USDT_PY_TAG (the
interpreter's name, e.g. py3.12 or py3.11-deb: test names are prefixed with it
so each interpreter's results stay distinct). With CI=true a test skipped
because a tracer is missing counts as a failure.
"""
import os
import sys
import time
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
tag = os.environ.get("USDT_PY_TAG") or "py%d.%d" % sys.version_info[:2]
ci = os.environ.get("CI") == "true"


def short(test):
    return "%s.%s" % (tag, test.id().replace("test_", "", 1))


def first_line(text):
    lines = [l for l in str(text).strip().splitlines() if l.strip()]
    return lines[-1].strip() if lines else "?"


class Result(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.failed = 0

    # Each test's time joins tests/run's $BUILD/test-times.txt, so the slow
    # ones of each interpreter show in the suite's budget.
    def startTest(self, test):
        super().startTest(test)
        self._t0 = time.monotonic()

    def stopTest(self, test):
        super().stopTest(test)
        times = os.environ.get("USDT_TEST_TIMES")
        if times:
            with open(times, "a") as f:
                f.write("%4d s    %s\n" % (time.monotonic() - self._t0, short(test)))

    def _out(self, line):
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def addSuccess(self, test):
        self._out("PASS " + short(test))

    def addFailure(self, test, err):
        self.failed += 1
        self._out("FAIL %s: %s" % (short(test), first_line(self._exc_info_to_string(err, test))))
        sys.stderr.write(self._exc_info_to_string(err, test))

    addError = addFailure

    def addSkip(self, test, reason):
        if reason == "not run here":
            return  # defined for other interpreters only: not a result here
        if ci and reason.startswith("tracer"):
            self.failed += 1
            self._out("FAIL %s: skipped under CI: %s" % (short(test), reason))
        else:
            self._out("SKIP %s: %s" % (short(test), reason))

    def addSubTest(self, test, sub, err):
        if err is not None:
            self.addFailure(sub, err)


def main():
    pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
    suite = unittest.defaultTestLoader.discover(here, pattern=pattern, top_level_dir=here)
    result = Result()
    suite.run(result)
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
