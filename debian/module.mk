# debian/: the Debian packages libusdt0, libusdt-dev, usdt and python3-usdt.
#   make deb   build them out of tree (scripts/deb/build: a copy of the
#              tree's files, dpkg-buildpackage -b there) into dist/deb/
# Rebuilt when a file of the tree changes; tests/debian/deb_test.sh installs
# them into a clean bookworm root.
DEB_OUT  := dist/deb
DEB_SRCS := $(wildcard $(shell git ls-files --cached --others --exclude-standard 2>/dev/null))
.PHONY: deb
deb: deps $(DEB_OUT)/.built
$(DEB_OUT)/.built: $(DEB_SRCS)
	scripts/deb/build $(DEB_OUT)
	@touch $@
EXTRA_TEST_DEPS += deb
