# node-ext: the Node.js addon `usdt` (N-API, C; libusdt linked in statically),
# built with plain cc against the installed node's headers into
# $(BUILD)/node/usdt.node, which node-ext/lib/index.js finds from the source
# tree. `npm install ./node-ext` builds the same sources with node-gyp
# (binding.gyp) instead. src/*.cc (node-runtime's V8 hooks) are compiled as
# C++20 (V8 13.6, node 24, requires it; node 20's and 22's headers build
# with it too) and then the addon is linked by the C++ driver.
NODE_INC   ?= /usr/include/node
NODE_ADDON := $(BUILD)/node/usdt.node
NODE_C_SRCS  := $(sort $(wildcard node-ext/src/*.c))
NODE_CC_SRCS := $(sort $(wildcard node-ext/src/*.cc))
NODE_OBJS := $(NODE_C_SRCS:node-ext/src/%.c=$(BUILD)/node/obj/%.o) \
	     $(NODE_CC_SRCS:node-ext/src/%.cc=$(BUILD)/node/obj/%.o)
NODE_HDRS := $(wildcard node-ext/src/*.h) $(HEADERS)
NODE_FLAGS := -fPIC -fvisibility=hidden -D_GNU_SOURCE -I$(NODE_INC) -Ilibusdt/include -Inode-ext/src
NODE_LD := $(if $(NODE_CC_SRCS),$(CXX),$(CC))

.PHONY: node
# Built by `make` wherever node's headers are (not under SANITIZE=1: an ASan
# libusdt inside node would need its runtime preloaded).
ifneq ($(wildcard $(NODE_INC)/node_api.h),)
ifndef SANITIZE
all: node
EXTRA_TEST_DEPS += node
BENCH_DEPS += node
endif
endif
node: $(NODE_ADDON)

$(BUILD)/node/obj/%.o: node-ext/src/%.c $(NODE_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter $(NODE_FLAGS) -c $< -o $@

$(BUILD)/node/obj/%.o: node-ext/src/%.cc $(NODE_HDRS)
	@mkdir -p $(@D)
	$(CXX) $(CFLAGS) -std=c++20 -Wall -Wextra -Wno-unused-parameter $(NODE_FLAGS) -c $< -o $@

# --exclude-libs: libusdt's symbols stay inside the addon.
$(NODE_ADDON): $(NODE_OBJS) $(LIB_A)
	@mkdir -p $(@D)
	$(NODE_LD) $(CFLAGS) -shared -Wl,--exclude-libs,ALL -Wl,-z,noexecstack \
		-o $@ $(NODE_OBJS) $(LIB_A) -ldl -lpthread
