#!/usr/bin/env bash
# vm_test.sh - the arm64 full-system level in `make test` (after
# usermode_test.sh, whose list of deferred tracer tests it runs): Debian's
# arm64 kernel under qemu-system-aarch64 with bpftrace, gdb and python3.
# About 2.5 minutes on this 2-core machine (image 20 s, boot and tests ~2 min).
exec bash "$(dirname "$0")/run-system"
