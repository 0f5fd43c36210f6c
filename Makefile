# gen_socket -- GNU Make.
#   make        build priv/gen_socket_drv.so and ebin/
#   make test   check/install dependencies, build, run the EUnit suites
#   make bench  the echo benchmark (see bench/)

ERL  ?= erl
ERLC ?= erlc
CC   ?= gcc

DEB_PACKAGES := erlang-nox erlang-dev erlang-eunit libev-dev gcc make erlang-ssl openssl

# Found lazily: erl may be missing until `make deps` installed it.
ERTS_INCLUDE = $(shell $(ERL) -noshell -eval 'io:format("~s/erts-~s/include", [code:root_dir(), erlang:system_info(version)]), halt().' 2>/dev/null)

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

.PHONY: all deps test clean bench bench-quick

all: deps-quiet priv/gen_socket_drv.so $(BEAMS) ebin/gen_socket.app

# Dependencies: check everything, install what is missing when we can
# (root and apt-get), otherwise name the Debian packages and stop.
deps:
	@sh .ci/deps.sh $(DEB_PACKAGES)

deps-quiet:
	@sh .ci/deps.sh --check-only $(DEB_PACKAGES) >/dev/null 2>&1 || sh .ci/deps.sh $(DEB_PACKAGES)

c_src/%.o: c_src/%.c $(C_HDR)
	$(CC) $(CFLAGS) -I$(ERTS_INCLUDE) -c $< -o $@

priv/gen_socket_drv.so: $(C_OBJ)
	@mkdir -p priv
	$(CC) -shared -o $@.tmp $(C_OBJ) $(LDFLAGS) $(LDLIBS)
	@mv -f $@.tmp $@    # a rename: a running VM keeps its mapping intact

ebin/%.beam: src/%.erl $(wildcard src/*.hrl)
	@mkdir -p ebin
	$(ERLC) $(ERLC_FLAGS) -I src -o ebin $<

ebin/gen_socket.app: gen_socket.app.src $(ERL_SRC)
	@mkdir -p ebin
	$(ERL) -noshell -eval '{ok, [{application, A, P}]} = file:consult("gen_socket.app.src"), Mods = [list_to_atom(filename:basename(F, ".erl")) || F <- filelib:wildcard("src/*.erl")], P2 = lists:keystore(modules, 1, P, {modules, lists:sort(Mods)}), ok = file:write_file("$@", io_lib:format("~p.~n", [{application, A, P2}])), halt().'

test/%.beam: test/%.erl
	$(ERLC) $(ERLC_FLAGS) -I src -o test $<

test: deps all $(TEST_BEAMS)
	@$(MAKE) --no-print-directory -C bench build
	$(ERL) -noshell -pa ebin -pa test -eval 'R = eunit:test([$(TEST_LIST)], [verbose]), halt(case R of ok -> 0; _ -> 1 end).'

bench: all
	@$(MAKE) -C bench run

bench-quick: all
	@$(MAKE) -C bench quick

clean:
	rm -f c_src/*.o priv/*.so ebin/*.beam ebin/*.app test/*.beam
