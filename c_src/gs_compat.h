/* gs_compat.h -- erl_driver version guards.
 *
 * gen_socket builds against every erts from R16B (driver API 2.1) to the
 * current release (3.3); it is built and tested on R16B01 and on the
 * current Debian OTP, and compile-checked against a 3.2 header of the
 * OTP 17 line (.ci/compile-check.sh).
 *
 * What appeared when (ERL_DRV_EXTENDED_MAJOR/MINOR_VERSION of erl_driver.h).
 * [h]: seen in a header read for this table -- R16B01's installed from
 * ../shared/legacy (2.1), erlang/otp's at commit 025a7b79 (3.2) and
 * Debian's OTP 25 (3.3); [n]: from OTP release notes and docs only.
 *
 *   2.1  R16B    THE BASELINE [h, R16B01]: everything c_src/ calls is in
 *                it -- driver_alloc/realloc/free(_binary),
 *                driver_binary_inc_refc, driver_select, driver_system_info,
 *                driver_create_port, driver_mk_port, driver_mk_atom,
 *                driver_connected, driver_caller, driver_lock_driver,
 *                driver_monitor_process, driver_demonitor_process,
 *                set_port_control_flags, erl_drv_send_term,
 *                erl_drv_output_term, erl_drv_thread_create/join,
 *                erl_drv_mutex_*, erl_drv_cond_*, erl_errno_id, and the
 *                stop_select and process_exit callbacks.  R16B02/R16B03
 *                are not checked here.
 *   3.0  17.0    major bump [n]; the ERL_DRV_MAP term type (maps) and no
 *                driver_async_cancel any more [h, 3.2].  2.x drivers still
 *                load (ERL_DRV_MIN_REQUIRED_MAJOR_VERSION_ON_LOAD is 2).
 *   3.1  17.x    nothing gen_socket uses [n].
 *   3.2  17.4.1  ErlDrvEntry.emergency_close [h]; the release from erts
 *                6.3.1's notes (OTP-12447, crash dumps and the drivers'
 *                sockets) [n].  Absent in 2.1 and, per issue 10, 3.1: an
 *                initializer that names it does not compile there
 *                ("excess elements in struct initializer").
 *                ERL_DRV_FLAG_USE_INIT_ACK and erl_drv_init_ack are in
 *                this header too (documented from OTP 19.0).
 *   3.3  18.0    ErlDrvTime, erl_drv_monotonic_time, erl_drv_time_offset,
 *                erl_drv_convert_time_unit [h]; erl_drv_set_os_pid later
 *                without a bump [h].  OTP 25 is 3.3 [h].
 *
 * Newer calls or fields go behind GS_DRV_AT_LEAST(major, minor) below, with
 * a fallback that behaves the same on the old release.
 */
#ifndef GS_COMPAT_H
#define GS_COMPAT_H

#include <erl_driver.h>

#ifndef ERL_DRV_EXTENDED_MAJOR_VERSION
#error "erl_driver.h too old: gen_socket needs R16B or newer"
#endif

#define GS_DRV_AT_LEAST(major, minor)                                   \
    (ERL_DRV_EXTENDED_MAJOR_VERSION > (major) ||                        \
     (ERL_DRV_EXTENDED_MAJOR_VERSION == (major) &&                      \
      ERL_DRV_EXTENDED_MINOR_VERSION >= (minor)))

#if !GS_DRV_AT_LEAST(2, 1)
#error "gen_socket needs driver API 2.1 (R16B) or newer"
#endif

/* ErlDrvEntry.emergency_close: driver API 3.2 (OTP 17.4.1) and later.
 * gen_socket sets it to NULL (no emergency work of its own), so on older
 * releases the member is simply left out of the initializer. */
#define GS_HAVE_EMERGENCY_CLOSE GS_DRV_AT_LEAST(3, 2)

/* The magic offset that prim_inet adds to inet_drv request numbers since
 * OTP 23 (prim_inet's ?INET_REQ_* base); older releases, R16 included, send
 * the bare number.  drv_control accepts both. */
#define GS_INET_CTL_MAGIC 0x03f1a300u

#if defined(__GNUC__)
#  define GS_UNUSED __attribute__((unused))
#  define GS_LIKELY(x) __builtin_expect(!!(x), 1)
#  define GS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#  define GS_UNUSED
#  define GS_LIKELY(x) (x)
#  define GS_UNLIKELY(x) (x)
#endif

#endif
