/* gs_compat.h -- erl_driver version guards.
 *
 * gen_socket builds against every erts from R16B03 (driver API 2.x) to the
 * current release (3.x).  Everything used unguarded in c_src/ exists since
 * R16B: erl_drv_send_term, erl_drv_output_term, ErlDrvSizeT/ErlDrvSSizeT,
 * driver_create_port, erl_drv_thread_*, erl_drv_mutex_*, erl_drv_cond_*,
 * driver_mk_port, driver_connected, driver_caller, driver_lock_driver.
 * Newer calls go behind the macros below.
 */
#ifndef GS_COMPAT_H
#define GS_COMPAT_H

#include <erl_driver.h>

#ifndef ERL_DRV_EXTENDED_MAJOR_VERSION
#error "erl_driver.h too old: gen_socket needs R16B or newer"
#endif

#if ERL_DRV_EXTENDED_MAJOR_VERSION < 2
#error "gen_socket needs driver API 2.x (R16B) or newer"
#endif

/* emergency_close is in the entry since driver API 2.0 (R15B), so it is
 * always present here; kept as a name for readability. */
#define GS_HAVE_EMERGENCY_CLOSE 1

/* The magic offset that prim_inet adds to inet_drv request numbers since
 * OTP 23; older releases send the bare number.  We accept both. */
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
