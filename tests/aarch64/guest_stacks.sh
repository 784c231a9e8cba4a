#!/usr/bin/env bash
# guest_stacks.sh - tests/python/test_stacks.py on 64-bit Arm: Debian's arm64
# python3 and bpftrace 0.17 under Debian's arm64 kernel (qemu-system-aarch64,
# TCG). The walk there takes the thread pointer from
# curtask->thread.uw.tp_value and adds the layout's pthread_self() delta.
# Not part of `make test` (bpftrace verifies three walk programs slowly
# under emulation); run it by hand after `make aarch64`:
#   scripts/aarch64/vm-image build-a64/vm/image
#   scripts/aarch64/vm-run build-a64/vm/image tests/aarch64/guest_stacks.sh
set -u
cd "$(dirname "$0")/../.."
B=${BUILD_A64:-build-a64}
export USDT_DIR=$(mktemp -d /tmp/usdt-vm.XXXXXX)
trap 'rm -rf "$USDT_DIR"' EXIT
echo "# $(uname -srm), $(bpftrace --version), $(python3 --version)"
export USDT_TEST_TIME_SCALE=${USDT_TEST_TIME_SCALE:-30} BUILD=$B USDT_PY_TAG=aarch64-py3.11
export PYTHONPATH=$PWD/python-ext:$PWD/$B/python
exec python3 -u tests/python/runner.py test_stacks.py
