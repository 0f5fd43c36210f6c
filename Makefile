# gen_socket -- GNU Make.
#   make        build priv/gen_socket_drv.so and ebin/
#   make test   check/install dependencies, build, run the EUnit suites:
#               the whole suite, then a reduced one under each of
#               TEST_CONFIGS (scheduler layouts, binding policies)
#   make test-suite TEST_FLAGS="+S 4:2"   the whole suite under erl flags
#   make bench  the echo benchmark (see bench/)
#   make test-legacy  build and test on R16B01 in _build/r16b01 (.ci/legacy.sh)

ERL  ?= erl
ERLC ?= erlc
CC   ?= gcc

DEB_PACKAGES := erlang-nox erlang-dev erlang-eunit libev-dev gcc make erlang-ssl openssl

# Found lazily (erl may be missing until `make deps` installed it), once.
ERTS_INCLUDE = $(eval ERTS_INCLUDE := $(shell $(ERL) -noshell -eval 'io:format("~s/erts-~s/include", [code:root_dir(), erlang:system_info(version)]), halt().' 2>/dev/null))$(ERTS_INCLUDE)

CFLAGS  ?= -O2 -g
CFLAGS  += -fPIC -std=gnu99 -Wall -Wextra -Werror -D_GNU_SOURCE
LDLIBS  := -lev -lpthread
ERLC_FLAGS := +warnings_as_errors +debug_info

C_SRC   := $(wildcard c_src/*.c)
C_HDR   := $(wildcard c_src/*.h)
C_OBJ   := $(C_SRC:c_src/%.c=c_src/%.o)
ERL_SRC := $(wildcard src/*.erl)
BEAMS   := $(ERL_SRC:src/%.erl=ebin/%.beam)
TEST_SRC := $(wildcard test/*.erl)
TEST_BEAMS := $(TEST_SRC:test/%.erl=test/%.beam)
TEST_MODS := $(basename $(notdir $(wildcard test/*_tests.erl)))
comma := ,
empty :=
space := $(empty) $(empty)
TEST_LIST = $(subst $(space),$(comma),$(strip $(TEST_MODS)))

# The EUnit modules `make test-legacy` runs on R16B01 (.ci/legacy.sh):
# listed, not globbed, so a new module that is not R16-safe (ssl,
# ranch/cowboy, OTP 25-only features) is not pulled in by itself.
LEGACY_TESTS := gen_socket_compat_tests gen_socket_behaviour_tests \
                gen_socket_options_tests gen_socket_packet_tests \
                gen_socket_echo_tests gen_socket_engine_tests \
                gen_socket_fuzz_tests gen_socket_legacy_tests
LEGACY_ERL   ?= /opt/otp-r16b01/bin/erl
LEGACY_DIR   ?= _build/r16b01

# Extra erl flags for the whole-suite run (by hand: any +S layout, or
# "-gen_socket bind_socket_policy N").
TEST_FLAGS ?=
# Configurations CI must cover besides the default (issue 8): each runs
# the reduced suite below (about 80 s on 2 cores).  Quoted, one per word.
TEST_CONFIGS ?= "+S 4" "+S 4:2" "-gen_socket bind_socket_policy 0" "-gen_socket bind_socket_policy 2"
TEST_REDUCED ?= gen_socket_compat_tests,gen_socket_behaviour_tests,gen_socket_echo_tests,gen_socket_options_tests,gen_socket_fuzz_tests,gen_socket_engine_tests
EUNIT_RUN = -noshell -pa ebin -pa test -eval 'R = eunit:test([$(1)], [$(2)]), halt(case R of ok -> 0; _ -> 1 end).'

.PHONY: all deps test test-suite test-configs test-legacy clean bench bench-quick FORCE

all: deps-quiet priv/gen_socket_drv.so $(BEAMS) ebin/gen_socket.app

# Which erts the objects and beams were built for: a build with another
# ERL/ERLC (e.g. R16B01's) rebuilds everything instead of mixing.
.build-erts: FORCE
	@echo '$(ERTS_INCLUDE) $(ERLC)' | cmp -s - $@ || echo '$(ERTS_INCLUDE) $(ERLC)' > $@

# Dependencies: check everything, install what is missing when we can
# (root and apt-get), otherwise name the Debian packages and stop.
deps:
	@sh .ci/deps.sh $(DEB_PACKAGES)

deps-quiet:
	@sh .ci/deps.sh --check-only $(DEB_PACKAGES) >/dev/null 2>&1 || sh .ci/deps.sh $(DEB_PACKAGES)

c_src/%.o: c_src/%.c $(C_HDR) .build-erts
	$(CC) $(CFLAGS) -I$(ERTS_INCLUDE) -c $< -o $@

priv/gen_socket_drv.so: $(C_OBJ)
	@mkdir -p priv
	$(CC) -shared -o $@.tmp $(C_OBJ) $(LDFLAGS) $(LDLIBS)
	@mv -f $@.tmp $@    # a rename: a running VM keeps its mapping intact

ebin/%.beam: src/%.erl $(wildcard src/*.hrl) .build-erts
	@mkdir -p ebin
	$(ERLC) $(ERLC_FLAGS) -I src -o ebin $<

ebin/gen_socket.app: gen_socket.app.src $(ERL_SRC)
	@mkdir -p ebin
	$(ERL) -noshell -eval '{ok, [{application, A, P}]} = file:consult("gen_socket.app.src"), Mods = [list_to_atom(filename:basename(F, ".erl")) || F <- filelib:wildcard("src/*.erl")], P2 = lists:keystore(modules, 1, P, {modules, lists:sort(Mods)}), ok = file:write_file("$@", io_lib:format("~p.~n", [{application, A, P2}])), halt().'

test/%.beam: test/%.erl .build-erts
	$(ERLC) $(ERLC_FLAGS) -I src -o test $<

test: test-suite
	@$(MAKE) --no-print-directory test-configs

test-suite: deps all $(TEST_BEAMS)
	@$(MAKE) --no-print-directory -C bench build
	$(ERL) $(TEST_FLAGS) $(call EUNIT_RUN,$(TEST_LIST),verbose)

test-configs: all $(TEST_BEAMS)
	@for c in $(TEST_CONFIGS); do \
	    echo "== reduced suite under erl $$c"; \
	    $(ERL) $$c $(call EUNIT_RUN,$(TEST_REDUCED),) || exit 1; \
	done

# R16B01 (installed from ../shared/legacy/ when missing, or LEGACY_ERL=...),
# built in $(LEGACY_DIR); runs $(LEGACY_TESTS) on that VM.
test-legacy:
	@LEGACY_ERL='$(LEGACY_ERL)' LEGACY_DIR='$(LEGACY_DIR)' LEGACY_TESTS='$(LEGACY_TESTS)' sh .ci/legacy.sh

bench: all
	@$(MAKE) -C bench run

bench-quick: all
	@$(MAKE) -C bench quick

clean:
	rm -f c_src/*.o priv/*.so ebin/*.beam ebin/*.app test/*.beam .build-erts
	rm -rf _build
