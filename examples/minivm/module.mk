# examples/minivm: a small Forth linking libusdt, with static probes generated
# from providers/vm.d by usdt-gen (providers/module.mk makes the header).
EXAMPLES += $(BUILD)/examples/minivm

$(BUILD)/examples/minivm: examples/minivm/minivm.c $(BUILD)/include/vm_probes.h $(LIB_A) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -I$(BUILD)/include -o $@ $< $(LIB_A) $(LDLIBS_LIB)

.PHONY: demo-vm
demo-vm: deps all
	scripts/demo-vm
