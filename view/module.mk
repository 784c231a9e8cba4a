# view: `usdt top`, `usdt heatmap`, `usdt stacks` and `usdt flame`, a Python program (view/usdt-view and
# its package view/usdt_view/) that the C `usdt` runs from ../libexec/usdt/
# beside itself: copied there in the build tree by `make`, installed there
# by `make install`.
VIEW_SRCS := view/usdt-view $(wildcard view/usdt_view/*.py)
VIEW_OUT  := $(VIEW_SRCS:view/%=$(BUILD)/libexec/usdt/%)
.PHONY: view
all: view
tools: view
view: $(VIEW_OUT)
$(BUILD)/libexec/usdt/%: view/%
	@mkdir -p $(@D)
	cp -p $< $@

install: install-view
.PHONY: install-view uninstall-view
install-view: view
	install -d $(DESTDIR)$(PREFIX)/libexec/usdt/usdt_view
	install -m 0755 view/usdt-view $(DESTDIR)$(PREFIX)/libexec/usdt/
	install -m 0644 $(wildcard view/usdt_view/*.py) $(DESTDIR)$(PREFIX)/libexec/usdt/usdt_view/
uninstall: uninstall-view
uninstall-view:
	rm -rf $(DESTDIR)$(PREFIX)/libexec/usdt

# make demo-top: usdt top and usdt heatmap on the shop example and a Python
# service; `make demo` runs it too.
.PHONY: demo-top
demo-top: deps all
	BUILD=$(BUILD) scripts/demo-top
demo: demo-top
