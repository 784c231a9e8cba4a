# tests/aarch64: libusdt on 64-bit Arm, cross-built here and proven under
# emulation at two levels (README "64-bit Arm"):
#   make aarch64        cross build into $(BUILD_A64): library, tools, C tests,
#                       the Python extension for Debian's arm64 python3, and the
#                       static-probe program made from a .d file
#   make test-aarch64   user-mode level (qemu-aarch64-static; no tracer) and
#                       full-system level (Debian's arm64 kernel under
#                       qemu-system-aarch64, bpftrace and gdb), one summary line
# `make test` runs both: tests/aarch64/usermode_test.sh, then vm_test.sh (the
# full-system level, about 2.5 minutes), so it needs `make aarch64` first.
BUILD_A64 ?= build-a64
CROSS     ?= aarch64-linux-gnu-
HOST_BUILD ?= build
.PHONY: aarch64 aarch64-deps aarch64-extras test-aarch64

aarch64-deps: deps
	@scripts/aarch64/deps

# The same Makefile with the cross compiler and another build directory.
aarch64: aarch64-deps $(BUILD)/bin/usdt-gen
	$(MAKE) CC=$(CROSS)gcc AR=$(CROSS)ar BUILD=$(BUILD_A64) HOST_BUILD=$(BUILD) \
		lib tools tests aarch64-extras

EXTRA_TEST_DEPS += aarch64

test-aarch64: all aarch64
	BUILD=$(BUILD) BUILD_A64=$(BUILD_A64) tests/aarch64/run-levels

# Inside that sub-make $(BUILD) is the arm64 build directory.
A64_PY  := $(BUILD)/python/usdt/_usdt.cpython-311-aarch64-linux-gnu.so
A64_SDT := $(BUILD)/aarch64/sdt_d
aarch64-extras: $(A64_PY) $(A64_SDT)

# The extension as setup.py builds it, with the cross compiler and the arm64
# pyconfig.h of libpython3.11-dev:arm64 (multiarch: it sits beside the host's).
$(A64_PY): $(wildcard python-ext/src/*.c python-ext/src/*.h python-ext/usdt/*.py) $(HEADERS) $(LIB_A)
	@mkdir -p $(@D) $(BUILD)/pyinc
	ln -sfn /usr/include/aarch64-linux-gnu $(BUILD)/pyinc/aarch64-linux-gnu
	$(CC) -shared -fPIC -O2 -g -std=gnu11 -fvisibility=hidden -D_GNU_SOURCE -DUSDT_STATIC_BUILD \
		-Wno-missing-field-initializers -Wno-unused-parameter \
		-I$(BUILD)/pyinc -I/usr/include/python3.11 -Ilibusdt/include -Ilibusdt/src -Ipython-ext/src \
		-o $@ $(sort $(wildcard python-ext/src/*.c)) $(LIB_A) -Wl,--exclude-libs,ALL -ldl -lpthread
	cp python-ext/usdt/*.py $(@D)/

# A program with static probes from a .d file through usdt-gen (the host's
# build of it: the generated header is the same for every architecture).
$(A64_SDT): tests/aarch64/sdt_d.d tests/aarch64/sdt_d.c $(HOST_BUILD)/bin/usdt-gen $(HEADERS)
	@mkdir -p $(@D)
	$(HOST_BUILD)/bin/usdt-gen -o $(@D)/sdt_d_probes.h tests/aarch64/sdt_d.d
	$(CC) -O2 -g -Ilibusdt/include -I$(@D) -o $@ tests/aarch64/sdt_d.c
