# fuzz/fuzz.mk - libFuzzer targets (run by `make fuzz` from the repo root).
#
# Every fuzz/fuzz_<name>.c becomes build/fuzz/fuzz_<name>, linked against
# the project's sources compiled again with clang and the sanitizers into
# build/fuzz/obj (gcc objects from build/obj are never reused: different
# compiler, different instrumentation). The library objects are gathered
# in build/fuzz/libsouk.a, so a target links only what it uses; src/main.c
# is left out (it has its own main). Run them with fuzz/run.sh.

FUZZ_CC    ?= clang
FUZZ_DIR   := build/fuzz
FUZZ_PKGS  := libmicrohttpd jansson libsodium libcurl hiredis sqlite3 libpq vips libmagic
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# Warnings stay on but are not errors here: the gate for warnings is the
# gcc build; clang may word things differently.
FUZZ_CFLAGS := -std=c17 -g -O1 -pthread -Wall -Wextra -Wno-unused-parameter $(FUZZ_SAN) \
               -D_GNU_SOURCE -DSOUK_FUZZING -Isrc -Ibuild/gen \
               $(shell pkg-config --cflags $(FUZZ_PKGS) 2>/dev/null)
FUZZ_LIBS  := $(shell pkg-config --libs $(FUZZ_PKGS) 2>/dev/null) -lpthread -lm

FUZZ_LIB_SRCS := $(filter-out src/main.c,$(shell find src -name '*.c' | sort))
FUZZ_OBJS     := $(patsubst src/%.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_LIB_SRCS))
FUZZ_TARGETS  := $(patsubst fuzz/%.c,$(FUZZ_DIR)/%,$(sort $(wildcard fuzz/fuzz_*.c)))

.PHONY: all
all: $(FUZZ_TARGETS)

# Library objects: sanitizers plus coverage instrumentation, no libFuzzer main.
$(FUZZ_DIR)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_DIR)/libsouk.a: $(FUZZ_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/%: fuzz/%.c $(FUZZ_DIR)/libsouk.a
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_DIR)/libsouk.a $(FUZZ_LIBS) -o $@

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
