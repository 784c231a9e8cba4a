# node-ext: the Node.js addon `usdt`, in two parts:
#  - $(BUILD)/node/usdt.node: N-API only, C, libusdt linked in statically.
#    ABI-stable: this one build loads on every Node line (20, 22, 24, 26).
#  - $(BUILD)/node/usdt_gc-abiN.node: the runtime provider's GC part
#    (node-ext/gc/gc.cc), V8's C++ API, so one per Node major (N =
#    NODE_MODULE_VERSION of the headers in NODE_INC: 115, 127, 137, 147).
#    C++20: V8 13.6 (node 24) requires it; node 20's and 22's headers build
#    with it too. Linked lazily (-z lazy) so that in a node of another major
#    its init can refuse before a missing V8 symbol is looked up.
# node-ext/lib/index.js finds them from the source tree. `npm install
# ./node-ext` builds the same sources with node-gyp (binding.gyp) instead.
# `make node-gc NODE_INC=DIR/include/node` builds the GC part for another
# node; `make node-lines` does it for every pinned line (scripts/node-lines).
NODE_INC   ?= /usr/include/node
NODE_ADDON := $(BUILD)/node/usdt.node
NODE_ABI    = $(shell sed -n 's/^\#define NODE_MODULE_VERSION \([0-9][0-9]*\)$$/\1/p' $(NODE_INC)/node_version.h)
NODE_GC     = $(BUILD)/node/usdt_gc-abi$(NODE_ABI).node
NODE_C_SRCS := $(sort $(wildcard node-ext/src/*.c))
NODE_OBJS := $(NODE_C_SRCS:node-ext/src/%.c=$(BUILD)/node/obj/%.o)
NODE_HDRS := $(wildcard node-ext/src/*.h) $(HEADERS)
# N-API is C and ABI-stable: any node's node_api.h builds the same addon.
NODE_FLAGS := -fPIC -fvisibility=hidden -D_GNU_SOURCE -I$(NODE_INC) -Ilibusdt/include -Inode-ext/src

.PHONY: node node-gc node-lines
# Built by `make` wherever node's headers are (not under SANITIZE=1: an ASan
# libusdt inside node would need its runtime preloaded).
ifneq ($(wildcard $(NODE_INC)/node_api.h),)
ifndef SANITIZE
all: node
EXTRA_TEST_DEPS += node
BENCH_DEPS += node
# The other lines' node binaries come from the npm registry (CI has npm).
ifneq ($(shell command -v npm),)
EXTRA_TEST_DEPS += node-lines npm-pack
BENCH_DEPS += node-lines
endif
endif
endif
node: $(NODE_ADDON) node-gc
node-gc:
	@$(MAKE) --no-print-directory $(NODE_GC)

$(BUILD)/node/obj/%.o: node-ext/src/%.c $(NODE_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter $(NODE_FLAGS) -c $< -o $@

# --exclude-libs: libusdt's symbols stay inside the addon.
$(NODE_ADDON): $(NODE_OBJS) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -shared -Wl,--exclude-libs,ALL -Wl,-z,noexecstack \
		-o $@ $(NODE_OBJS) $(LIB_A) -ldl -lpthread

$(BUILD)/node/usdt_gc-abi%.node: node-ext/gc/gc.cc node-ext/src/gc_iface.h
	@mkdir -p $(@D)
	@[ "$*" = "$(NODE_ABI)" ] || { echo "$@: NODE_INC=$(NODE_INC) is ABI $(NODE_ABI), not $*" >&2; exit 1; }
	$(CXX) $(CFLAGS) -std=c++20 -Wall -Wextra -Wno-unused-parameter -fPIC -fvisibility=hidden \
		-I$(NODE_INC) -Inode-ext/src -shared -Wl,-z,lazy -Wl,-z,noexecstack -o $@ $<

# Every pinned Node line (fetched into a cache outside the clone) gets its GC part.
node-lines: $(NODE_ADDON)
	@lines=$$(scripts/node-lines) && printf '%s\n' "$$lines" | while read -r major version dir; do \
		$(MAKE) --no-print-directory node-gc NODE_INC=$$dir/include/node || exit 1; done

# The npm packages `usdt` (with prebuilt binaries: usdt.node and the GC part
# of every pinned Node line for x64, the same cross-built for arm64) and
# `dtrace-provider` as tarballs in $(NPM_DIST) (scripts/npm-pack). `make test`
# builds them where npm is: tests/node/install_test.js installs them.
NPM_DIST ?= dist
export USDT_NPM_DIST := $(abspath $(NPM_DIST))
.PHONY: npm-pack node-lines-arm64
# The arm64 addon has a build directory of its own: `make aarch64` may be
# compiling libusdt into $(BUILD_A64) at the same time (make -j test).
NPM_A64 := $(BUILD)/npm-arm64
A64_VARS = CC=$(CROSS)gcc CXX=$(CROSS)g++ AR=$(CROSS)ar BUILD=$(NPM_A64)
# The arm64 GC parts: the cross g++ with the same flags, against the headers
# of each pinned line's official arm64 node (scripts/node-lines -a arm64);
# tests/node/arm64_gc_test.sh runs those nodes under qemu-aarch64-static.
node-lines-arm64:
	@lines=$$(scripts/node-lines -a arm64) && printf '%s\n' "$$lines" | while read -r major version dir; do \
		$(MAKE) --no-print-directory $(A64_VARS) node-gc NODE_INC=$$dir/include/node || exit 1; done
# setup-deps installs the cross compilers when they are missing (a fresh machine).
npm-pack: $(NODE_ADDON) node-lines $(if $(shell command -v $(CROSS)gcc && command -v $(CROSS)g++),,deps)
	$(MAKE) --no-print-directory $(A64_VARS) $(NPM_A64)/node/usdt.node
	$(MAKE) --no-print-directory node-lines-arm64
	scripts/npm-pack -o $(NPM_DIST) $(BUILD) $(NPM_A64)
