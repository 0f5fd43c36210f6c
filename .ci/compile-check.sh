#!/bin/sh
# Compile-checks c_src/ against other erts headers, with the project's
# warnings (-Werror), without linking: for releases that are not installed
# here.   usage: sh .ci/compile-check.sh INCLUDE_DIR...
# Each INCLUDE_DIR holds that release's erl_driver.h with its companions
# (erl_drv_nif.h, erl_int_sizes_config.h).  Prints the driver API version
# each one declares.
set -e
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: $0 INCLUDE_DIR..." >&2; exit 2; }
for inc in "$@"; do
    v=$(printf '#include <erl_driver.h>\nERL_DRV_EXTENDED_MAJOR_VERSION.ERL_DRV_EXTENDED_MINOR_VERSION\n' |
        ${CC:-gcc} -E -P -I"$inc" - | tail -1 | tr -d ' ')
    for f in c_src/*.c; do
        ${CC:-gcc} -fsyntax-only -O2 -fPIC -std=gnu99 -Wall -Wextra -Werror \
            -D_GNU_SOURCE -I"$inc" "$f"
    done
    echo "compile-check: c_src/ against $inc (driver API $v): ok"
done
