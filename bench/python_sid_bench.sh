#!/usr/bin/env bash
# bench/python_sid_bench.sh - the Python benchmarks on CPython 3.14 and 3.15,
# Debian's, in the sid root (scripts/sid/run; built and cached on first use):
# BENCH py3.14.* and py3.15.* lines, each measured against the same in-run
# floors as the host's interpreters (call_cmethod_ns, the empty loop, the
# untraced control), under bpftrace 0.27.
set -u
cd "$(dirname "$0")/.."
exec scripts/sid/run env BUILD=build-sid USDT_BENCH_PYTHONS="python3.14 python3.15" bash -c '
	status=0
	for s in bench/python_bench.py bench/python_runtime_bench.py; do
		python3 "$s" | grep "^BENCH " || status=1
	done
	exit $status'
