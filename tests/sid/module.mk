# tests/sid: the current-distribution level (README "Today's stack"): the
# tracer-facing tests again inside a Debian sid root with today's tracers and
# runtimes (bpftrace 0.27, bcc 0.37, gdb 18, perf, CPython 3.14/3.15, Node 24).
#   make sid-root   build the root once (scripts/sid/mkroot; cached by its
#                   package list in /var/cache/libusdt/sid, or $USDT_SID_ROOT)
#   make test-sid   the level alone: tests/sid/sid_test.sh (tests/sid/tests.list)
# `make test` builds the root first; tests/run finds sid_test.sh like any
# other shell test, and it builds the tree inside the root into build-sid.
.PHONY: sid-root test-sid

sid-root: deps
	@scripts/sid/mkroot

EXTRA_TEST_DEPS += sid-root

test-sid: sid-root
	@bash tests/sid/sid_test.sh | tee $(BUILD)/sid-results.txt; \
		! grep -q '^FAIL ' $(BUILD)/sid-results.txt
