# tests/fuzz: libFuzzer targets (clang). `make fuzz` runs each for
# FUZZ_SECONDS; tests/fuzz/fuzz_test.sh runs each briefly in the test suite.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -g -O1 -std=gnu11 -D_GNU_SOURCE -fno-omit-frame-pointer \
		-fsanitize=address,undefined -fno-sanitize-recover=undefined \
		-Ilibusdt/include -Ilibusdt/src
FUZZ_OBJS    := $(LIB_SRCS:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

# Kept, not deleted as intermediates: make's "rm ..." would otherwise
# follow the test summary line.
.SECONDARY: $(FUZZ_OBJS)

$(BUILD)/fuzz/obj/%.o: %.c $(HEADERS) $(wildcard libusdt/src/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) -ldl -lpthread

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_TARGETS)
fuzz: deps fuzz-build
	BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run-fuzz.sh

# The suite's short fuzz run needs the targets (fuzz_test.sh builds them too,
# for a clang installed by setup-deps after this was read).
ifneq ($(shell command -v $(FUZZ_CC) 2>/dev/null),)
EXTRA_TEST_DEPS += $(FUZZ_TARGETS)
endif
