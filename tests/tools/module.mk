# tests/tools: idle_prog, an idle process with a watched C provider, run by
# tests/libusdt/idle_test.sh and bench/idle_bench.sh.
IDLE_PROG := $(BUILD)/tests/tools/idle_prog
tests: $(IDLE_PROG)
EXTRA_TEST_DEPS += $(IDLE_PROG)
BENCH_DEPS += $(IDLE_PROG)
$(IDLE_PROG): tests/tools/idle_prog.c $(LIB_A) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -o $@ $< $(LIB_A) $(LDLIBS_LIB)
