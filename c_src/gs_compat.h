/* gs_compat.h -- erl_driver version guards.
 *
 * gen_socket builds against every erts from R16B (driver API 2.1) to the
 * current release (3.3); it is built and tested on R16B01 and on the
 * current Debian OTP, and compile-checked against an OTP 17 header.
 *
 * What appeared when (ERL_DRV_EXTENDED_MAJOR/MINOR_VERSION of erl_driver.h;
 * from the R16B01 headers installed from ../shared/legacy and erlang/otp's
 * erl_driver.h history and release notes):
 *
 *   2.0  R15B    ErlDrvSizeT/ErlDrvSSizeT in the callbacks (64-bit API),
 *                erl_drv_send_term, erl_drv_output_term, driver_mk_port,
 *                driver_create_port, erl_drv_thread_* / mutex_* / cond_*,
 *                driver_monitor_process, driver_connected, driver_caller,
 *                driver_lock_driver, driver_system_info, stop_select.
 *   2.1  R16B    ERL_DRV_FLAG_NO_BUSY_MSGQ, erl_drv_busy_msgq_limits,
 *                erl_drv_consume_timeslice.  R16B01..R16B03-1 stay at 2.1.
 *                THE BASELINE: everything c_src/ calls unguarded is here.
 *   3.0  17.0    major bump (ERL_DRV_MAP term type; driver_output_term and
 *                driver_send_term deprecated); 2.x drivers still load.
 *   3.1  17.x    no field or call gen_socket uses.
 *   3.2  17.4.1  ErlDrvEntry.emergency_close (erts 6.3.1, OTP-12447: the
 *                crash-dump path closes listen sockets through it).  Absent
 *                in 2.1 and 3.1: an initializer that names it does not
 *                compile there ("excess elements in struct initializer").
 *   3.3  18.0    ErlDrvTime, erl_drv_monotonic_time, erl_drv_time_offset,
 *                erl_drv_convert_time_unit; later 19.0 added
 *                ERL_DRV_FLAG_USE_INIT_ACK, erl_drv_init_ack,
 *                erl_drv_set_os_pid without a bump.  OTP 19..27 are 3.3.
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
