# python-ext: the CPython extension `usdt`, built for the default python3 by
# `make` into $(BUILD)/python/<tag>/ (scripts/with-python builds for any
# interpreter on demand; tests and bench use it).
.PHONY: python
all: python
python: $(LIB_A)
	@BUILD=$(BUILD) scripts/with-python python3 true
EXTRA_TEST_DEPS += python
BENCH_DEPS += python

# Interpreters `make test` runs tests/python on: every pyenv 3.8-3.13 present
# and Debian's python3.
USDT_TEST_PYTHONS ?= $(strip $(foreach v,3.8 3.9 3.10 3.11 3.12 3.13,\
	$(if $(wildcard /root/.pyenv/versions/$(v).*/bin/python3),$(v))) \
	$(if $(wildcard /usr/bin/python3),deb))
export USDT_TEST_PYTHONS

# The Python distribution `libusdt` in dist/: its sdist and a manylinux wheel
# per interpreter (PYTHON_DIST_PYTHONS, names as scripts/python-path takes),
# built offline from Debian's setuptools/wheel wheels (scripts/python-dist).
PYTHON_DIST_PYTHONS ?= $(USDT_TEST_PYTHONS)
.PHONY: python-dist
python-dist:
	scripts/python-dist -o dist $(or $(PYTHON_DIST_PYTHONS),python3)
