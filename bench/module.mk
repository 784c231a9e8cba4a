# Benchmarks: bench/<name>_bench.c -> build/bench/<name>_bench, linked with libusdt.a.
# scripts/bench runs every build/bench/*_bench and bench/*_bench.{sh,py}.
BENCH_SRCS := $(wildcard bench/*_bench.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
BENCH_DEPS += $(BENCH_BINS)

# bench/<name>.d -> static probe headers (usdt-gen), for static_bench.
$(BUILD)/bench/include/%_probes.h: bench/%.d $(BUILD)/bin/usdt-gen
	@mkdir -p $(@D)
	$(BUILD)/bin/usdt-gen -o $@ $<

$(BUILD)/bench/static_bench: $(BUILD)/bench/include/static_probes.h
# Its two loops compile to the same instructions; aligned alike, they time alike.
$(BUILD)/bench/static_bench: BENCH_CFLAGS := -falign-loops=64

$(BUILD)/bench/%_bench: bench/%_bench.c $(LIB_A) $(HEADERS) $(wildcard bench/*.h)
	@mkdir -p $(@D)
	$(CC) -O2 -g $(BENCH_CFLAGS) $(BASE_CFLAGS) -Ilibusdt/src -Itests/lib -Ibench -I$(BUILD)/bench/include -o $@ $< $(LIB_A) $(LDLIBS_LIB)
