# zvd build. `make` builds the library, the CLI, the tests and the benchmark
# into build/; `make SAN=1` builds the same with ASan+UBSan into build-san/.
# Warnings are errors.

SAN ?= 0
ifeq ($(SAN),1)
B := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT := -O1
else
B := build
SANFLAGS :=
OPT := -O2
endif

CC ?= cc
CFLAGS ?= $(OPT) -g
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wno-unused-parameter -Wvla
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE -pthread -Iinclude -Ilib $(WARN) $(CFLAGS) $(SANFLAGS) -MMD -MP
LDLIBS := -pthread -luring -lgnutls -lrados

LIB_SRC := $(wildcard lib/*/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
CLI_SRC := $(wildcard src/*.c src/*/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o)
TEST_SRC := $(wildcard tests/unit/*.c tests/crash/*.c)
TEST_BIN := $(TEST_SRC:%.c=$(B)/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:%.c=$(B)/%)

all: $(B)/libzvd.a $(B)/zvd $(TEST_BIN) $(BENCH_BIN)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libzvd.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/zvd: $(CLI_OBJ) $(B)/libzvd.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: tests/%.c $(B)/libzvd.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(B)/libzvd.a $(LDLIBS)

$(B)/bench/%: bench/%.c $(B)/libzvd.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(B)/libzvd.a $(LDLIBS) -lm

clean:
	rm -rf build build-san

.PHONY: all clean
-include $(shell find $(B) -name '*.d' 2>/dev/null)
