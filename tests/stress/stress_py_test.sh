#!/usr/bin/env bash
# stress_py_test.sh - tests/stress/stress_py.py (the stress test through the
# Python extension) for STRESS_SECONDS (5 s here), default python3.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build} STRESS_SECONDS=${STRESS_SECONDS:-5} \
	scripts/with-python python3 tests/stress/stress_py.py
