# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the libFuzzer targets with clang (GNU make; called by the
# fuzz-programs target of Makefile.am, which passes the variables below).
# Every library source is compiled again with clang and
# -fsanitize=fuzzer-no-link,address,undefined into t/fuzz/obj/, so the
# fuzzers see coverage of the code under test; the targets link
# -fsanitize=fuzzer. Incremental: objects depend on their sources (and on
# headers through the .d files).
#
#   srcdir FUZZ_CXX FUZZ_CPPFLAGS FUZZ_LIBS LIB_SOURCES
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_FLAGS = -std=c++20 -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Wno-unused-command-line-argument
OBJ = t/fuzz/obj
LIB_OBJECTS = $(patsubst $(srcdir)/%.cpp,$(OBJ)/%.o,$(addprefix $(srcdir)/,$(filter %.cpp,$(LIB_SOURCES))))
READER_OBJECTS = $(OBJ)/src/proto/reader.o $(OBJ)/src/proto/request.o $(OBJ)/src/base/strings.o
SPF_OBJECTS = $(OBJ)/src/dns/spf_record.o $(OBJ)/src/dns/spf_macro.o $(OBJ)/src/base/net.o \
	$(OBJ)/src/base/strings.o
TARGETS = t/fuzz/fuzz-reader t/fuzz/fuzz-config t/fuzz/fuzz-policy t/fuzz/fuzz-spf

all: $(TARGETS)

$(OBJ)/%.o: $(srcdir)/%.cpp
	@mkdir -p $(@D)
	@echo "  FUZZCXX  $@"
	@$(FUZZ_CXX) $(FUZZ_FLAGS) $(FUZZ_CPPFLAGS) -I$(srcdir)/t/fuzz -MMD -MP -c -o $@ $<

$(OBJ)/fuzz.a: $(LIB_OBJECTS)
	@rm -f $@
	@ar rcs $@ $^

t/fuzz/fuzz-reader: $(OBJ)/t/fuzz/fuzz_reader.o $(READER_OBJECTS)
	@echo "  FUZZLD   $@"
	@$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^

t/fuzz/fuzz-config: $(OBJ)/t/fuzz/fuzz_config.o $(OBJ)/fuzz.a
	@echo "  FUZZLD   $@"
	@$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS)

t/fuzz/fuzz-policy: $(OBJ)/t/fuzz/fuzz_policy.o $(OBJ)/fuzz.a
	@echo "  FUZZLD   $@"
	@$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS)

t/fuzz/fuzz-spf: $(OBJ)/t/fuzz/fuzz_spf.o $(SPF_OBJECTS)
	@echo "  FUZZLD   $@"
	@$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
