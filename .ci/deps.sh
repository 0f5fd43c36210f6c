#!/bin/sh
# Checks the build and test dependencies of gen_socket; installs the
# missing Debian packages when run as root with apt-get, otherwise names
# them and fails.   usage: deps.sh [--check-only] PACKAGE...
check_only=0
[ "$1" = "--check-only" ] && { check_only=1; shift; }

missing=""
need() { missing="$missing $1"; }

command -v gcc >/dev/null 2>&1 || need gcc
command -v make >/dev/null 2>&1 || need make
if command -v erl >/dev/null 2>&1 && command -v erlc >/dev/null 2>&1; then
    inc=$(erl -noshell -eval 'io:format("~s/erts-~s/include", [code:root_dir(), erlang:system_info(version)]), halt().' 2>/dev/null)
    [ -f "$inc/erl_driver.h" ] || need erlang-dev
    erl -noshell -eval 'case code:lib_dir(eunit) of {error, _} -> halt(1); _ -> halt(0) end.' >/dev/null 2>&1 || need erlang-eunit
else
    need erlang-nox
    need erlang-dev
    need erlang-eunit
fi
[ -f /usr/include/ev.h ] || [ -f /usr/local/include/ev.h ] || need libev-dev
# Asked for by name: erlang-ssl and openssl (make test: the TLS suite),
# gnuplot-nox and wrk (make bench)
for p in "$@"; do
    [ "$p" = gnuplot-nox ] && { command -v gnuplot >/dev/null 2>&1 || need gnuplot-nox; }
    [ "$p" = wrk ] && { command -v wrk >/dev/null 2>&1 || need wrk; }
    [ "$p" = openssl ] && { command -v openssl >/dev/null 2>&1 || need openssl; }
    [ "$p" = erlang-ssl ] && { erl -noshell -eval 'case code:lib_dir(ssl) of {error, _} -> halt(1); _ -> halt(0) end.' >/dev/null 2>&1 || need erlang-ssl; }
done

[ -z "$missing" ] && exit 0
[ $check_only = 1 ] && exit 1

echo "gen_socket: missing dependencies:$missing"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "gen_socket: installing with apt-get:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq $missing || {
        echo "gen_socket: apt-get failed; install these Debian packages:$missing" >&2
        exit 1
    }
    exit 0
fi
echo "gen_socket: install these Debian packages (as root): apt-get install$missing" >&2
exit 1
