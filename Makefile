# souk - build with `make`; see README.md and HACKING.md.
#
#   make            build/souk (release flags, -Werror)
#   make run        build, then serve on SQLite in ./data (Ctrl-C stops)
#   make demo       load a demo marketplace into ./data (chefs, plans, recipes, subscribers)
#   make test       unit tests, API tests on SQLite and PostgreSQL, then the same under ASan+UBSan
#   make asan       build/asan/souk and unit tests with AddressSanitizer + UBSan
#   make fuzz       libFuzzer targets in build/fuzz/ (clang)
#   make bench      wrk benchmarks into bench/RESULTS.md
#   make unit       unit tests only;  make api  API tests only (DB=sqlite|pgsql|all)

PKGS      := libmicrohttpd jansson libsodium libcurl hiredis sqlite3 libpq vips libmagic
V         ?= release
BUILD     := build
CC        ?= cc
WARN      := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
             -Wpointer-arith -Wformat=2 -Wno-format-nonliteral -Wvla -Wundef
CPPFLAGS  += -D_GNU_SOURCE -Isrc -I$(BUILD)/gen
OPT       ?= -O2 -g
CFLAGS    += -std=c17 $(OPT) $(WARN) -fno-strict-aliasing -pthread
DEPS_OK   := $(BUILD)/.deps-ok

ifeq ($(V),asan)
  BUILD   := build/asan
  OPT     := -O1 -g -fno-omit-frame-pointer
  SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
  CFLAGS  += $(SAN)
  LDFLAGS += $(SAN)
endif

PKG_CFLAGS = $(patsubst -I%,-isystem%,$(shell pkg-config --cflags $(PKGS) 2>/dev/null))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LIBS       = $(PKG_LIBS) -lpthread -lm

SRCS      := $(shell find src -name '*.c' | sort)
LIB_SRCS  := $(filter-out src/main.c,$(SRCS))
GEN_SRCS  := $(BUILD)/gen/migrations.c $(BUILD)/gen/openapi.c
OBJS      := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) \
             $(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(GEN_SRCS))
MIGRATIONS:= $(sort $(wildcard src/db/migrations/*/*.sql))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all run demo deps test unit api asan asan-test fuzz fuzz-run bench clean format lint
.DEFAULT_GOAL := all

all: $(BUILD)/souk

# Installs missing Debian packages (silent when all are there).
$(DEPS_OK): scripts/deps.sh
	@./scripts/deps.sh
	@mkdir -p $(@D) && touch $@
deps: $(DEPS_OK)

$(BUILD)/gen/migrations.c: $(MIGRATIONS) scripts/embed.sh | $(DEPS_OK)
	@mkdir -p $(@D)
	@./scripts/embed.sh migrations $@

OPENAPI_PARTS := $(sort $(wildcard docs/openapi/*.json))
$(BUILD)/gen/openapi.json: $(OPENAPI_PARTS) scripts/openapi_merge.py | $(DEPS_OK)
	@mkdir -p $(@D)
	@/usr/bin/python3 scripts/openapi_merge.py $@ $(OPENAPI_PARTS)

$(BUILD)/gen/openapi.c: $(BUILD)/gen/openapi.json scripts/embed.sh
	@./scripts/embed.sh file souk_openapi_json $< $@

$(BUILD)/obj/%.o: src/%.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/libsouk.a: $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/souk: $(BUILD)/obj/main.o $(BUILD)/libsouk.a
	$(CC) $(LDFLAGS) -pthread $^ $(LIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h $(BUILD)/libsouk.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(PKG_CFLAGS) $< $(BUILD)/libsouk.a $(LDFLAGS) $(LIBS) -lcmocka -o $@

run: $(BUILD)/souk
	./$(BUILD)/souk serve

demo: $(BUILD)/souk
	./$(BUILD)/souk demo

# ---- tests ------------------------------------------------------------------
unit: $(UNIT_BINS)
	@./tests/run_unit.sh $(UNIT_BINS)

api: $(BUILD)/souk
	@SOUK_BIN=$(abspath $(BUILD)/souk) ./tests/run_api.sh $(DB)

test:
	@./tests/run_all.sh

asan:
	@$(MAKE) --no-print-directory V=asan CC=$(CC) build/asan/souk $(patsubst $(BUILD)/%,build/asan/%,$(UNIT_BINS))

asan-test: asan
	@$(MAKE) --no-print-directory V=asan unit
	@$(MAKE) --no-print-directory V=asan api

# ---- fuzzing (clang + libFuzzer) --------------------------------------------
FUZZ_SRCS := $(sort $(wildcard fuzz/fuzz_*.c))
fuzz:
	@$(MAKE) --no-print-directory -f fuzz/fuzz.mk

fuzz-run: fuzz
	@./fuzz/run.sh

bench: all
	@./bench/run.sh

format:
	clang-format -i $(SRCS) $(wildcard src/*/*.h src/*.h tests/unit/*.c tests/unit/*.h fuzz/*.c)

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
	  --suppress=missingIncludeSystem -Isrc -D_GNU_SOURCE src

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
