# tests/aarch64: libusdt on 64-bit Arm, cross-built here and proven under
# emulation at two levels (README "arm64"):
#   make aarch64        cross build into $(BUILD_A64): library, tools, C tests,
#                       the Python extension for Debian's arm64 python3, and the
#                       static-probe program made from a .d file
#   make test-aarch64   user-mode level (qemu-aarch64-static; no tracer) and
#                       full-system level (Debian's arm64 kernel under
#                       qemu-system-aarch64, bpftrace), one summary line
# `make test` runs the user-mode level through tests/aarch64/usermode_test.sh.
BUILD_A64 ?= build-a64
CROSS     ?= aarch64-linux-gnu-
A64_PY    := $(BUILD_A64)/python/usdt/_usdt.cpython-311-aarch64-linux-gnu.so
A64_SDT   := $(BUILD_A64)/aarch64/sdt_d
.PHONY: aarch64 aarch64-c test-aarch64

aarch64-c:
	$(MAKE) CC=$(CROSS)gcc AR=$(CROSS)ar BUILD=$(BUILD_A64) lib tools tests

aarch64: aarch64-c $(A64_PY) $(A64_SDT)

# The extension as setup.py builds it, with the cross compiler and the arm64
# pyconfig.h of libpython3.11-dev:arm64 (multiarch: it sits beside the host's).
$(A64_PY): $(wildcard python-ext/src/*.c python-ext/src/*.h python-ext/usdt/*.py) $(HEADERS) aarch64-c
	@mkdir -p $(@D) $(BUILD_A64)/pyinc
	ln -sfn /usr/include/aarch64-linux-gnu $(BUILD_A64)/pyinc/aarch64-linux-gnu
	$(CROSS)gcc -shared -fPIC -O2 -g -std=gnu11 -fvisibility=hidden -D_GNU_SOURCE -DUSDT_STATIC_BUILD \
		-Wno-missing-field-initializers -Wno-unused-parameter \
		-I$(BUILD_A64)/pyinc -I/usr/include/python3.11 -Ilibusdt/include -Ilibusdt/src -Ipython-ext/src \
		-o $@ $(sort $(wildcard python-ext/src/*.c)) $(BUILD_A64)/lib/libusdt.a \
		-Wl,--exclude-libs,ALL -ldl -lpthread
	cp python-ext/usdt/*.py $(@D)/

# A program with static probes from a .d file through usdt-gen (the host's
# build of it: the generated header is the same for every architecture).
$(A64_SDT): tests/aarch64/sdt_d.d tests/aarch64/sdt_d.c $(BUILD)/bin/usdt-gen $(HEADERS)
	@mkdir -p $(@D)
	$(BUILD)/bin/usdt-gen -o $(@D)/sdt_d_probes.h tests/aarch64/sdt_d.d
	$(CROSS)gcc -O2 -g -Ilibusdt/include -I$(@D) -o $@ tests/aarch64/sdt_d.c

test-aarch64: all aarch64
	BUILD=$(BUILD) BUILD_A64=$(BUILD_A64) tests/aarch64/run-levels
