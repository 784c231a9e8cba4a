# tests/stress: `make stress` runs the stress test long (STRESS_LONG_SECONDS);
# the test suite runs it for STRESS_SECONDS (10 s by default).
STRESS_LONG_SECONDS ?= 120
.PHONY: stress
stress: deps lib $(BUILD)/tests/stress/stress_test
	USDT_DIR=$$(mktemp -d /tmp/usdt-stress.XXXXXX) STRESS_SECONDS=$(STRESS_LONG_SECONDS) \
	USDT_TEST_CASE_TIMEOUT=$$(( $(STRESS_LONG_SECONDS) + 120 )) $(BUILD)/tests/stress/stress_test
