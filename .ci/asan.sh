#!/bin/sh
# The C code under AddressSanitizer: builds a copy of this checkout in a
# temporary directory with -fsanitize=address and runs the suites that
# reach the parsers and every opcode with libasan preloaded into the VM.
#   sh .ci/asan.sh          (about 3 minutes; not part of `make test`)
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
git -C "$top" archive --format=tar HEAD | tar -x -C "$dir"
cd "$dir"
make -s CFLAGS="-O1 -g -fsanitize=address -fno-omit-frame-pointer -fPIC -std=gnu99 -Wall -Wextra -Werror -D_GNU_SOURCE" \
     LDFLAGS="-fsanitize=address" all
erlc -o test test/*.erl
LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 \
  erl -noshell -pa ebin -pa test -eval 'R = eunit:test([gen_socket_packet_tests, gen_socket_behaviour_tests, gen_socket_options_tests, gen_socket_fuzz_tests, gen_socket_compat_tests], []), halt(case R of ok -> 0; _ -> 1 end).' 2>&1 | tee asan.log | tail -3
! grep -q "ERROR: AddressSanitizer" asan.log
