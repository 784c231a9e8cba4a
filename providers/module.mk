# providers/*.d -> $(BUILD)/include/<name>_probes.h, static probe headers made
# by usdt-gen; part of `make all`, so examples and runtimes just include them.
PROVIDER_DEFS    := $(wildcard providers/*.d)
PROVIDER_HEADERS := $(PROVIDER_DEFS:providers/%.d=$(BUILD)/include/%_probes.h)

all: $(PROVIDER_HEADERS)

$(BUILD)/include/%_probes.h: providers/%.d $(BUILD)/bin/usdt-gen
	@mkdir -p $(@D)
	$(BUILD)/bin/usdt-gen -o $@ $<
