# libusdt - one Makefile for the library, tools, Python extension, examples and tests.
#
#   make            build the library, tools and examples
#   make demo       install what is missing, build, run the main demo under bpftrace
#   make test       install what is missing, build, run every test
#   make bench      print BENCH lines (see README)
#   make install    PREFIX=/usr/local DESTDIR=
#   SANITIZE=1      build into build-san/ with ASan and UBSan
#
# Parts of the tree add rules through */module.mk fragments (python-ext,
# examples, tests); sources are found by wildcard, so adding a file needs no
# edit here.

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
DESTDIR ?=

CC      ?= cc
AR      ?= ar
PYTHON  ?= python3

VERSION := 0.1.0
SOVER   := 0
SONAME  := libusdt.so.$(SOVER)

ifdef SANITIZE
BUILD   ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD   ?= build
SANFLAGS :=
endif

CFLAGS  ?= -O2 -g
# CPPFLAGS and LDFLAGS (empty by default) reach the library and the tools:
# a distribution's hardening flags (dpkg-buildflags) apply to what it ships.
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
BASE_CFLAGS := -std=gnu11 $(WARN) $(SANFLAGS) -D_GNU_SOURCE -Ilibusdt/include
LIB_CFLAGS  := $(BASE_CFLAGS) -fPIC -fvisibility=hidden -Ilibusdt/src
LDLIBS_LIB  := -ldl -lpthread

LIB_SRCS := $(sort $(wildcard libusdt/src/*.c))
LIB_PIC  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB_SO   := $(BUILD)/lib/libusdt.so.$(VERSION)
LIB_A    := $(BUILD)/lib/libusdt.a
HEADERS  := $(wildcard libusdt/include/*.h)

TOOLS    := $(patsubst libusdt/tools/%.c,$(BUILD)/bin/%,$(wildcard libusdt/tools/*.c))
C_TESTS  := $(patsubst %.c,$(BUILD)/%,$(shell find tests -name '*_test.c' 2>/dev/null))
# Every test header: a change to tracer.h must rebuild the tests that use it.
TESTLIB  := $(wildcard tests/lib/*.h)

.PHONY: all lib tools tests examples python demo test check bench install uninstall clean deps
all: lib tools examples

lib: $(LIB_SO) $(LIB_A) $(BUILD)/lib/libusdt.pc

$(BUILD)/obj/%.o: %.c $(HEADERS) $(wildcard libusdt/src/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LIB_CFLAGS) -c $< -o $@

$(LIB_SO): $(LIB_PIC) libusdt/libusdt.map
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $(SANFLAGS) -shared -Wl,-soname,$(SONAME) \
		-Wl,--version-script=libusdt/libusdt.map -Wl,-z,noexecstack \
		-o $@ $(LIB_PIC) $(LDLIBS_LIB)
	ln -sf libusdt.so.$(VERSION) $(BUILD)/lib/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/lib/libusdt.so

$(LIB_A): $(LIB_PIC)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/lib/libusdt.pc: libusdt/libusdt.pc.in Makefile
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCDIR@|$(INCDIR)|g' -e 's|@VERSION@|$(VERSION)|g' $< >$@

tools: $(TOOLS)
$(BUILD)/bin/%: libusdt/tools/%.c $(LIB_A) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(BASE_CFLAGS) -Ilibusdt/src $(LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS_LIB)

tests: $(C_TESTS)
$(BUILD)/tests/%_test: tests/%_test.c $(LIB_A) $(TESTLIB) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -Ilibusdt/src -Itests/lib -o $@ $< $(LIB_A) $(LDLIBS_LIB) -lelf

# Fragments add to these.
EXAMPLES :=
EXTRA_TEST_DEPS :=
BENCH_DEPS :=
-include $(sort $(wildcard */module.mk examples/*/module.mk tests/*/module.mk))

examples: $(EXAMPLES)

deps:
	@scripts/setup-deps

demo: deps all
	scripts/demo

test: deps all tests $(EXTRA_TEST_DEPS)
	BUILD=$(BUILD) tests/run

check: all tests $(EXTRA_TEST_DEPS)
	BUILD=$(BUILD) tests/run

bench: deps all $(BENCH_DEPS)
	BUILD=$(BUILD) scripts/bench

install: lib tools
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR)
	install -m 0755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libusdt.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libusdt.so
	install -m 0644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 0644 $(HEADERS) $(DESTDIR)$(INCDIR)/
	install -m 0644 $(BUILD)/lib/libusdt.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	$(if $(TOOLS),install -m 0755 $(TOOLS) $(DESTDIR)$(BINDIR)/)

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libusdt.so* $(DESTDIR)$(LIBDIR)/libusdt.a \
	      $(DESTDIR)$(LIBDIR)/pkgconfig/libusdt.pc \
	      $(addprefix $(DESTDIR)$(INCDIR)/,$(notdir $(HEADERS))) \
	      $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(TOOLS)))

clean:
	rm -rf build build-san dist
