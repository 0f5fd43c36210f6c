#!/bin/sh
# make test-legacy: gen_socket built and tested on a legacy release.
#   LEGACY_ERL   erl of that release (default /opt/otp-r16b01/bin/erl; when
#                that is missing it is installed from ../shared/legacy/)
#   LEGACY_DIR   separate build directory (default _build/r16b01): the
#                driver is compiled against that release's own headers,
#                the beams by its own erlc; priv/ ebin/ test/ of the
#                checkout (the current-OTP build) are not touched
#   LEGACY_TESTS the EUnit modules to run there (explicit list, from the
#                Makefile: a new test module is not R16-safe by default)
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
erl=${LEGACY_ERL:-/opt/otp-r16b01/bin/erl}
dir=${LEGACY_DIR:-_build/r16b01}
tests=${LEGACY_TESTS:?LEGACY_TESTS: the test modules to run}
tarball=$top/../shared/legacy/otp-r16b01.tar.xz

if [ ! -x "$erl" ]; then
    if [ "$erl" != /opt/otp-r16b01/bin/erl ]; then
        echo "test-legacy: LEGACY_ERL=$erl is not an executable" >&2; exit 1
    fi
    [ -f "$tarball" ] || { echo "test-legacy: no $erl and no $tarball" >&2; exit 1; }
    [ "$(id -u)" = 0 ] || { echo "test-legacy: as root: tar -C /opt -xJf $tarball" >&2; exit 1; }
    echo "test-legacy: installing R16B01 from $tarball into /opt"
    tar -C /opt -xJf "$tarball"
fi
erlc=$(dirname "$erl")/erlc
rel=$("$erl" -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().')
echo "test-legacy: OTP $rel ($erl), build directory $dir"

# The sources, as they are in the working tree, into the build directory;
# cp -p keeps their times, so make there rebuilds only what changed.
mkdir -p "$dir/test" "$dir/.ci"
cp -p Makefile gen_socket.app.src "$dir/"
cp -p .ci/deps.sh "$dir/.ci/"
mkdir -p "$dir/c_src" "$dir/src"
rm -f "$dir"/c_src/*.[ch] "$dir"/src/*.erl "$dir"/src/*.hrl "$dir"/test/*.erl
cp -p c_src/*.[ch] "$dir/c_src/"
cp -p src/*.erl src/*.hrl "$dir/src/"
cp -p test/gs_test_lib.erl test/gs_compat.erl test/legacy/*.erl "$dir/test/"
for m in $tests; do cp -p "test/$m.erl" "$dir/test/"; done

make -s -C "$dir" ERL="$erl" ERLC="$erlc" all
for f in "$dir"/test/*.erl; do
    b="$dir/test/$(basename "$f" .erl).beam"
    [ "$b" -nt "$f" ] && [ "$b" -nt "$dir/.build-erts" ] && continue
    "$erlc" +warnings_as_errors +debug_info -I "$dir/src" -o "$dir/test" "$f"
done

list=$(echo $tests | tr ' ' ',')
cd "$dir"
"$erl" -noshell -pa ebin -pa test -eval "
    io:format(\"~s erts ~s, ~b schedulers~n\", [erlang:system_info(otp_release),
              erlang:system_info(version), erlang:system_info(schedulers)]),
    R = eunit:test([$list], [verbose]),
    halt(case R of ok -> 0; _ -> 1 end)."
