# bucketbridge: `make` builds build/bucketbridge; `make test` runs every suite.
# Sources are found by wildcard so a new module needs no Makefile edit:
#   bridge/*.c adapters/*.c       -> the daemon (main.c holds only main())
#   tests/unit/test_*.c           -> one program each, linked with the library
#   tests/integration/test_*.c    -> one program each, + tests/integration/lib_*.c
#   tests/fixtures/test_*.c       -> fixture runner(s)
#   tests/fuzz/fuzz_*.c           -> corpus replayers (make test), libFuzzer (make fuzz)

BUILD    ?= build
CC       ?= cc
PKGS     := rdkafka libcurl json-c yaml-0.1 libmicrohttpd
TESTPKGS := cmocka

# Installs the Debian packages when a library is missing (see deploy/install-deps.sh).
DEPS_OK := $(shell pkg-config --exists $(PKGS) $(TESTPKGS) && echo yes)
ifneq ($(DEPS_OK),yes)
$(info bucketbridge: missing build dependencies, running deploy/install-deps.sh)
$(shell sh deploy/install-deps.sh >&2)
endif

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
        -Wmissing-prototypes -Wvla -Wnull-dereference -Wpointer-arith \
        -Wcast-qual -Wwrite-strings -Wundef -Wold-style-definition \
        -Wmissing-declarations -Wredundant-decls -Wimplicit-fallthrough
ifeq ($(CI),true)
WARN += -Werror
endif
OPT      ?= -O2 -g
Q        ?= @
SAN      ?=
CFLAGS   := -std=c11 -D_GNU_SOURCE $(OPT) $(SAN) $(WARN) -I. \
            $(shell pkg-config --cflags $(PKGS))
LDLIBS   := $(shell pkg-config --libs $(PKGS)) -lpthread
TESTLIBS := $(shell pkg-config --libs $(TESTPKGS))
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CFLAGS   += -DBR_VERSION='"$(VERSION)"'

LIB_SRC  := $(filter-out bridge/main.c,$(wildcard bridge/*.c adapters/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libbridge.a

UNIT     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
FIXT     := $(patsubst tests/fixtures/%.c,$(BUILD)/tests/%,$(wildcard tests/fixtures/test_*.c))
INTEG    := $(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(wildcard tests/integration/test_*.c))
INTEG_LIB:= $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/integration/lib_*.c))
FUZZ     := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/%,$(wildcard tests/fuzz/fuzz_*.c))
TESTS    := $(UNIT) $(FIXT) $(INTEG) $(FUZZ)

all: $(BUILD)/bucketbridge

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bucketbridge: $(BUILD)/obj/bridge/main.o $(LIB)
	@echo "  LD    $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD    $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(TESTLIBS) $(LDLIBS)

# Integration and fixture programs share the same rule shape but other sources.
$(FIXT): $(BUILD)/tests/%: $(BUILD)/obj/tests/fixtures/%.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD    $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(TESTLIBS) $(LDLIBS)

$(INTEG): $(BUILD)/tests/%: $(BUILD)/obj/tests/integration/%.o $(INTEG_LIB) $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD    $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(TESTLIBS) $(LDLIBS)

$(FUZZ): $(BUILD)/tests/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/replay_main.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD    $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

tests: $(BUILD)/bucketbridge $(TESTS)

# The README's test command.  Exit 0 only when every test passed.
test: tests
	BUILD=$(BUILD) sh tests/run-tests.sh $(TESTS)

# Same suites under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	$(MAKE) BUILD=build-asan OPT='-O1 -g -fno-omit-frame-pointer' \
	    SAN='-fsanitize=address,undefined -fno-sanitize-recover=undefined' test

# libFuzzer builds (clang); FUZZ_SECONDS per harness.
FUZZ_SECONDS ?= 600
fuzz:
	sh tests/fuzz/run-libfuzzer.sh $(FUZZ_SECONDS)

# Runs the main job on the embedded default: mock Kafka + local receiver.
# The MinIO fixtures from ../shared when present, else our own samples.
DEMO_FILES := $(or $(filter-out %.expected.json,$(wildcard ../shared/fixtures/minio-*.json)),$(wildcard deploy/demo/*.json))
demo: $(BUILD)/bucketbridge
	$(BUILD)/bucketbridge demo $(DEMO_FILES)

check-docs: $(BUILD)/bucketbridge
	$(BUILD)/bucketbridge help-config --markdown | diff -u CONFIGURATION.md -

docs: $(BUILD)/bucketbridge
	$(BUILD)/bucketbridge help-config --markdown > CONFIGURATION.md

format-check:
	clang-format --dry-run --Werror bridge/*.c bridge/*.h adapters/*.c adapters/*.h

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

.SECONDARY:

.PHONY: all test tests asan fuzz demo check-docs docs format-check clean
