/* gs_sendfile.c -- file:sendfile onto a socket with sendfile(2).
 *
 * The request runs what it can at once in the socket port's callback; the
 * rest goes on from the pollset's write watcher, at most
 * GS_SENDFILE_ROUND bytes per callback, so one big file never holds a
 * dispatch round (the watcher stays armed: level-triggered epoll brings
 * it back next round).  Bytes queued before the request go first
 * (sf.skip); sends made while the file is in progress queue behind it
 * (send_now() is false), so nothing is reordered.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/sendfile.h>

#include "gs_sendfile.h"
#include "gs_atoms.h"

/* Linux sends at most 0x7ffff000 bytes per call; ask for less. */
#define GS_SENDFILE_CHUNK ((uint64_t)1 << 30)

static uint64_t get_u64(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++) v = (v << 8) | u[i];
    return v;
}

static void sf_close(gs_socket *s)
{
    if (s->sf.fd >= 0) close(s->sf.fd);
    s->sf.fd = -1;
    s->sf.skip = 0;
}

/* {sendfile, S, {ok, Low, High}}: the count as prim_inet reads it. */
static void sf_done(gs_socket *s, ErlDrvTermData from)
{
    ErlDrvTermData spec[] = {
        ERL_DRV_ATOM, am_sendfile, ERL_DRV_PORT, s->port_term,
        ERL_DRV_ATOM, am_ok,
        ERL_DRV_UINT, (ErlDrvTermData)(s->sf.sent & 0xffffffffu),
        ERL_DRV_UINT, (ErlDrvTermData)(s->sf.sent >> 32),
        ERL_DRV_TUPLE, 3, ERL_DRV_TUPLE, 3 };
    ErlDrvTermData to = s->sf.pid;
    sf_close(s);
    if (to) erl_drv_send_term(from, to, spec, sizeof spec / sizeof spec[0]);
}

/* {sendfile, S, {error, Reason}}: a connection gone is 'closed', as in
 * inet_drv. */
static void sf_failed(gs_socket *s, ErlDrvTermData from, int err)
{
    ErlDrvTermData reason = err == ECONNRESET || err == ENOTCONN ||
        err == EPIPE || err == GS_ECLOSED
        ? driver_mk_atom("closed") : driver_mk_atom((char *)gs_errstr(err));
    ErlDrvTermData spec[] = {
        ERL_DRV_ATOM, am_sendfile, ERL_DRV_PORT, s->port_term,
        ERL_DRV_ATOM, am_error, ERL_DRV_ATOM, reason,
        ERL_DRV_TUPLE, 2, ERL_DRV_TUPLE, 3 };
    ErlDrvTermData to = s->sf.pid;
    sf_close(s);
    if (to && from)
        erl_drv_send_term(from, to, spec, sizeof spec / sizeof spec[0]);
}

/* A failure takes the connection with it, as in inet_drv.  The socket
 * port's callback sends no tcp_closed (rule 4): an active socket's failure
 * waits in sf.err for dispatch.  Returns what sf_run returns. */
static int sf_error(gs_socket *s, ErlDrvTermData from, int e)
{
    if (from == s->port_term && s->active != GS_PASSIVE) {
        s->sf.err = e;
        return 1;
    }
    sf_failed(s, from, e);
    gs_socket_sendfile_down(s, from);
    return 0;
}

/* Sends what the socket takes, up to budget bytes.  1: more to do (EAGAIN
 * or budget spent); 0: finished or failed (the message is sent). */
static int sf_run(gs_socket *s, ErlDrvTermData from, size_t budget)
{
    if (s->sf.err) return sf_error(s, from, s->sf.err);
    while (s->sf.skip > 0) {
        ssize_t n = gs_socket_write_queued(s, s->sf.skip);
        if (n < 0) {
            int e = errno;
            if (e == EINTR) continue;
            if (e == EAGAIN || e == EWOULDBLOCK) return 1;
            return sf_error(s, from, e);
        }
        s->sf.skip -= (size_t)n;
        s->ps->round_bytes += (size_t)n;
    }
    while (s->sf.left > 0) {
        uint64_t want = s->sf.left;
        off_t off = (off_t)s->sf.offset;
        ssize_t n;
        if (budget == 0) return 1;
        if (want > GS_SENDFILE_CHUNK) want = GS_SENDFILE_CHUNK;
        if (want > budget) want = budget;
        n = sendfile(s->fd, s->sf.fd, &off, (size_t)want);
        if (n > 0) {
            s->sf.sent += (uint64_t)n;
            s->sf.offset += (uint64_t)n;
            s->sf.left -= (uint64_t)n;
            budget -= (size_t)n;
            s->ps->round_bytes += (size_t)n;    /* the phase's budget */
        } else if (n == 0) {
            s->sf.left = 0;             /* end of file */
        } else {
            int e = errno;
            if (e == EINTR) continue;
            if (e == EAGAIN || e == EWOULDBLOCK) return 1;
            return sf_error(s, from, e);
        }
    }
    sf_done(s, from);
    return 0;
}

int gs_sendfile_start(gs_socket *s, ErlDrvTermData caller, const char *buf,
                      size_t len, int *err)
{
    int ffd;
    uint64_t off, left;

    if (len != sizeof ffd + 16) { *err = EINVAL; return GS_ERR; }
    if (s->ps->dead || s->state != GS_ST_CONNECTED) {
        *err = ENOTCONN;
        return GS_ERR;
    }
    if (s->sf.fd >= 0) { *err = EINVAL; return GS_ERR; }  /* one at a time */
    memcpy(&ffd, buf, sizeof ffd);
    off = get_u64(buf + sizeof ffd);
    left = get_u64(buf + sizeof ffd + 8);
    if (off > (uint64_t)INT64_MAX || left > (uint64_t)INT64_MAX) {
        *err = EINVAL;
        return GS_ERR;
    }
    if (ffd < 0) { *err = EBADF; return GS_ERR; }
    s->sf.fd = fcntl(ffd, F_DUPFD_CLOEXEC, 0);
    if (s->sf.fd < 0) { *err = errno; s->sf.fd = -1; return GS_ERR; }
    s->sf.offset = off;
    s->sf.left = left;
    s->sf.sent = 0;
    s->sf.skip = s->sq.bytes;
    s->sf.pid = caller;
    s->sf.err = 0;
    /* What goes at once goes from here (the result then comes from the
     * socket port, to the caller that waits for exactly it). */
    if (sf_run(s, s->port_term, GS_SENDFILE_ROUND))
        gs_socket_watch_write(s);
    return GS_OK;
}

int gs_sendfile_serve(gs_socket *s, ErlDrvTermData from)
{
    if (s->sf.fd < 0) return 0;
    return sf_run(s, from, GS_SENDFILE_ROUND);
}

void gs_sendfile_abort(gs_socket *s, ErlDrvTermData from)
{
    if (s->sf.fd < 0) return;
    sf_failed(s, from, GS_ECLOSED);
}
