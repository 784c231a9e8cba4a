# One-file examples: examples/<name>.c -> build/examples/<name>, linked with libusdt.a.
EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLES += $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)

$(BUILD)/examples/%: examples/%.c $(LIB_A) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -o $@ $< $(LIB_A) $(LDLIBS_LIB)
