# tests/san: the C tests under valgrind memcheck (make check-valgrind) and,
# in the suite, under ASan+UBSan (tests/san/san_test.sh builds SANITIZE=1).
.PHONY: check-valgrind
check-valgrind: deps lib tests $(FAULT_TESTS)
	BUILD=$(BUILD) tests/san/valgrind.sh
