# tests/fault: tests linked against a copy of the library built with
# -DUSDT_FAULTS, whose allocator fails on demand (alloc.c).
FAULT_OBJS := $(LIB_SRCS:%.c=$(BUILD)/fault/obj/%.o)
FAULT_LIB  := $(BUILD)/fault/libusdt-fault.a
FAULT_TESTS := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/fault/*_test.c))

$(BUILD)/fault/obj/%.o: %.c $(HEADERS) $(wildcard libusdt/src/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LIB_CFLAGS) -DUSDT_FAULTS -c $< -o $@

$(FAULT_LIB): $(FAULT_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

# More specific than the generic test rule: these link the fault library.
$(BUILD)/tests/fault/%_test: tests/fault/%_test.c $(FAULT_LIB) $(TESTLIB) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -Ilibusdt/src -Itests/lib -o $@ $< $(FAULT_LIB) $(LDLIBS_LIB) -lelf

EXTRA_TEST_DEPS += $(FAULT_TESTS)
