/* gs_drv.c -- the driver entry: port callbacks decode and dispatch.
 *
 * One driver, two kinds of port: socket ports (one per socket, opened by
 * gen_socket or created by accept) and poller ports (one per pollset,
 * owned by a gen_socket_poller process bound to the pollset's scheduler).
 * A fresh port becomes one or the other with its first request.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <stddef.h>

#include "gs_compat.h"
#include "gs_pollset.h"
#include "gs_socket.h"
#include "gs_inet.h"
#include "gs_atoms.h"
#include "gs_parse.h"
#include "gs_closer.h"

/* gen_socket's own requests: numbers inet_drv does not use. */
#define GS_REQ_POLLER_START 100
#define GS_REQ_POLL         101
#define GS_REQ_HANDBACK     102
#define GS_REQ_INFO         103
#define GS_REQ_SET_POLICY   104
#define GS_REQ_ORPHANS      105
#define GS_REQ_OPEN         110
#define GS_REQ_BIND         111
#define GS_REQ_LISTEN       112
#define GS_REQ_CONNECT      113
#define GS_REQ_ACCEPT       114
#define GS_REQ_RECV         115
#define GS_REQ_SEND         116
#define GS_REQ_CANCEL       117
#define GS_REQ_SHUTDOWN     118
#define GS_REQ_SOCKINFO     119
#define GS_REQ_ATTACH       120
#define GS_REQ_EXIT         121

/* As inet_drv: a recv of more than this is refused with enomem. */
#define GS_MAX_RECV (64u * 1024 * 1024)

/* Reply status bytes */
#define GS_REP_ERROR 0
#define GS_REP_OK    1
#define GS_REP_WAIT  2
#define GS_REP_SENT  3

static int driver_locked;

/* ---- replies ------------------------------------------------------------- */

static ErlDrvSSizeT reply_bytes(char **rbuf, ErlDrvSizeT rsize,
                                const void *data, size_t n)
{
    if (n > rsize) {
        ErlDrvBinary *b = driver_alloc_binary(n);
        if (!b) return -1;
        memcpy(b->orig_bytes, data, n);
        *rbuf = (char *)b;
    } else {
        memcpy(*rbuf, data, n);
    }
    return (ErlDrvSSizeT)n;
}

static ErlDrvSSizeT reply_status(char **rbuf, ErlDrvSizeT rsize, int st)
{
    unsigned char c = (unsigned char)st;
    return reply_bytes(rbuf, rsize, &c, 1);
}

static ErlDrvSSizeT reply_err(char **rbuf, ErlDrvSizeT rsize, int err)
{
    char tmp[64];
    const char *e = gs_errstr(err);
    size_t n = strlen(e);
    if (n > sizeof tmp - 1) n = sizeof tmp - 1;
    tmp[0] = GS_REP_ERROR;
    memcpy(tmp + 1, e, n);
    return reply_bytes(rbuf, rsize, tmp, n + 1);
}

static ErlDrvSSizeT reply_custom_err(char **rbuf, ErlDrvSizeT rsize,
                                     const char *e)
{
    char tmp[64];
    size_t n = strlen(e);
    tmp[0] = GS_REP_ERROR;
    memcpy(tmp + 1, e, n);
    return reply_bytes(rbuf, rsize, tmp, n + 1);
}

static ErlDrvSSizeT reply_u32(char **rbuf, ErlDrvSizeT rsize, int st,
                              uint32_t v)
{
    unsigned char t[5];
    t[0] = (unsigned char)st;
    t[1] = (unsigned char)(v >> 24); t[2] = (unsigned char)(v >> 16);
    t[3] = (unsigned char)(v >> 8);  t[4] = (unsigned char)v;
    return reply_bytes(rbuf, rsize, t, 5);
}

static uint32_t get_u32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return ((uint32_t)u[0] << 24) | ((uint32_t)u[1] << 16) |
           ((uint32_t)u[2] << 8) | u[3];
}

static void put_u64(unsigned char *p, uint64_t v)
{
    int i;
    for (i = 7; i >= 0; i--) { p[i] = (unsigned char)v; v >>= 8; }
}

/* Decodes <<Port:16, Addr:4/16 bytes>> for the socket's family. */
static int decode_sockaddr(const gs_socket *s, const char *buf,
                           ErlDrvSizeT len, struct sockaddr_storage *ss,
                           socklen_t *sl)
{
    unsigned port;
    memset(ss, 0, sizeof *ss);
    if (len < 2) return -1;
    port = ((unsigned)(unsigned char)buf[0] << 8) | (unsigned char)buf[1];
    if (s->family == AF_INET && len == 6) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        memcpy(&in->sin_addr, buf + 2, 4);
        *sl = sizeof *in;
        return 0;
    }
    if (s->family == AF_UNIX) {
        /* <<0:16, Path/binary>>: a file name, or "" (the kernel picks an
         * abstract name), at most sun_path less its NUL */
        struct sockaddr_un *un = (struct sockaddr_un *)ss;
        size_t plen = len - 2;
        if (port != 0 || plen >= sizeof un->sun_path) return -1;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, buf + 2, plen);
        *sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
        return 0;
    }
    if (s->family == AF_INET6 && len == 18) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        memcpy(&in6->sin6_addr, buf + 2, 16);
        *sl = sizeof *in6;
        return 0;
    }
    return -1;
}

/* ---- poller port requests ------------------------------------------------ */

static ErlDrvSSizeT poller_start(gs_port *gp, const char *buf,
                                 ErlDrvSizeT len, char **rbuf,
                                 ErlDrvSizeT rsize)
{
    gs_pollset *ps;
    uint32_t idx;
    if (gp->kind != GS_PORT_NEW || len != 4) return reply_err(rbuf, rsize, EINVAL);
    idx = get_u32(buf);
    {
        /* One pollset per scheduler, no more. */
        ErlDrvSysInfo si;
        driver_system_info(&si, sizeof si);
        if (idx < 1 || idx > GS_MAX_POLLSETS ||
            (si.scheduler_threads > 0 && idx > (uint32_t)si.scheduler_threads))
            return reply_err(rbuf, rsize, EINVAL);
    }
    ps = gs_pollset_create((int)idx, gp->port);
    if (!ps) return reply_err(rbuf, rsize, EEXIST);
    if (driver_select(gp->port, (ErlDrvEvent)(long)ps->sig_rd,
                      ERL_DRV_READ | ERL_DRV_USE, 1) != 0) {
        gs_pollset_destroy(ps);
        return reply_err(rbuf, rsize, EIO);
    }
    ps->sig_selected = 1;
    ps->poller_pid = driver_caller(gp->port);
    gp->kind = GS_PORT_POLLER;
    gp->ps = ps;
    return reply_status(rbuf, rsize, GS_REP_OK);
}

static ErlDrvSSizeT poller_info(gs_pollset *ps, char **rbuf, ErlDrvSizeT rsize)
{
    unsigned char t[1 + 4 + 4 + 8 * 4];
    erl_drv_mutex_lock(ps->mtx);
    t[0] = GS_REP_OK;
    t[1] = 0; t[2] = 0; t[3] = (unsigned char)(ps->index >> 8);
    t[4] = (unsigned char)ps->index;
    {
        uint32_t n = (uint32_t)ps->nsockets;
        t[5] = (unsigned char)(n >> 24); t[6] = (unsigned char)(n >> 16);
        t[7] = (unsigned char)(n >> 8);  t[8] = (unsigned char)n;
    }
    put_u64(t + 9, ps->rounds);
    put_u64(t + 17, ps->wakeups);
    put_u64(t + 25, ps->events);
    put_u64(t + 33, ps->watcher_events);
    erl_drv_mutex_unlock(ps->mtx);
    return reply_bytes(rbuf, rsize, t, sizeof t);
}

static ErlDrvSSizeT poller_control(gs_port *gp, unsigned cmd,
                                   char **rbuf, ErlDrvSizeT rsize)
{
    gs_pollset *ps = gp->ps;
    switch (cmd) {
    case GS_REQ_POLL: {
        long n = gs_pollset_poll(ps);
        if (n < 0) return reply_status(rbuf, rsize, GS_REP_ERROR);
        return reply_u32(rbuf, rsize, GS_REP_OK, (uint32_t)n);
    }
    case GS_REQ_HANDBACK:
        return reply_status(rbuf, rsize, gs_pollset_handback(ps) ?
                            GS_REP_OK : GS_REP_WAIT);
    case GS_REQ_INFO:
        return poller_info(ps, rbuf, rsize);
    default:
        return reply_err(rbuf, rsize, EINVAL);
    }
}

/* ---- socket port requests ------------------------------------------------ */

/* {fd, Fd}: an fd opened elsewhere, taken as it is (not dup'ed), as
 * gen_tcp takes it.  0 or an errno; nothing is changed on failure. */
static int fd_adopt(int fd, int af, gs_sock_state *st)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fl;

    if (fd < 0 || (fl = fcntl(fd, F_GETFL)) < 0) return EBADF;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) return errno;
    if (ss.ss_family != af) return EINVAL;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return errno;
    sl = sizeof ss;
    *st = getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 ? GS_ST_CONNECTED
                                                            : GS_ST_OPEN;
    return 0;
}

/* <<Family, Scheduler:32>> opens a socket, <<Family, Scheduler:32,
 * Fd:32>> adopts Fd; either way the port joins a pollset. */
static ErlDrvSSizeT socket_open(gs_port *gp, const char *buf, ErlDrvSizeT len,
                                char **rbuf, ErlDrvSizeT rsize)
{
    gs_pollset *ps;
    gs_socket *s;
    gs_sock_state st = GS_ST_OPEN;
    int af, fd = -1, e;

    if (gp->kind != GS_PORT_NEW || (len != 5 && len != 9))
        return reply_err(rbuf, rsize, EINVAL);
    af = buf[0] == 1 ? AF_INET : buf[0] == 2 ? AF_INET6 :
         buf[0] == 3 ? AF_UNIX : -1;
    if (af < 0) return reply_err(rbuf, rsize, EAFNOSUPPORT);
    if (len == 9) {
        fd = (int)get_u32(buf + 5);
        if ((e = fd_adopt(fd, af, &st)) != 0) return reply_err(rbuf, rsize, e);
    }
    ps = gs_registry_pick((int)get_u32(buf + 1));
    if (!ps) return reply_custom_err(rbuf, rsize, "no_pollset");
    if (len == 5)
        fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    s = fd >= 0 ? gs_socket_new(gp->port) : NULL;
    if (!s) {
        e = fd < 0 ? errno : ENOMEM;
        if (fd >= 0 && len == 5) close(fd);
        __sync_sub_and_fetch(&ps->nsockets, 1);
        gs_pollset_unref(ps);
        return reply_err(rbuf, rsize, e);
    }
    s->fd = fd;
    s->family = af;
    s->state = st;
    gs_socket_attach(s, ps);
    gp->kind = GS_PORT_SOCKET;
    gp->s = s;
    {
        /* <<OK, Pollset:32, Bind:8>>: policy 1 binds the caller */
        unsigned char t[6];
        t[0] = GS_REP_OK;
        t[1] = 0; t[2] = 0;
        t[3] = (unsigned char)(ps->index >> 8);
        t[4] = (unsigned char)ps->index;
        t[5] = gs_registry_policy() == 1;
        return reply_bytes(rbuf, rsize, t, sizeof t);
    }
}

static ErlDrvSSizeT rc_reply(int rc, int err, char **rbuf, ErlDrvSizeT rsize)
{
    switch (rc) {
    case GS_OK: return reply_status(rbuf, rsize, GS_REP_OK);
    case GS_WAIT: return reply_status(rbuf, rsize, GS_REP_WAIT);
    case GS_SENT: return reply_status(rbuf, rsize, GS_REP_SENT);
    default: return reply_err(rbuf, rsize, err);
    }
}

/* A socket whose pollset went away (application stop, poller killed)
 * answers as a closed gen_tcp port.  An fd the teardown did not reach
 * (the socket was not yet on the pollset's list) is closed here, after
 * the mutex.  The unlocked read is only a shortcut: every path that
 * could use the pollset checks ps->dead again under its mutex. */
static int socket_gone(gs_socket *s)
{
    int fd;
    if (!*(volatile int *)&s->ps->dead) return 0;
    erl_drv_mutex_lock(s->ps->mtx);
    fd = s->fd;
    s->fd = -1;
    s->state = GS_ST_CLOSED;
    erl_drv_mutex_unlock(s->ps->mtx);
    gs_close_fd(fd);    /* may linger (an inherited SO_LINGER): rule 12 */
    return 1;
}

/* ORPHANS, on a fresh port: {'$gen_socket', Port, [SocketPort]} to the
 * caller, the ports of sockets whose pollset died, for it to close. */
static ErlDrvSSizeT take_orphans(gs_port *gp, char **rbuf, ErlDrvSizeT rsize)
{
    ErlDrvTermData *v, *spec, me = driver_mk_port(gp->port);
    size_t n = gs_registry_take_orphans(&v), i, k = 0;

    spec = driver_alloc((2 * n + 12) * sizeof *spec);
    if (!spec) {
        if (v) driver_free(v);
        return reply_err(rbuf, rsize, ENOMEM);
    }
    spec[k++] = ERL_DRV_ATOM; spec[k++] = am_gs;
    spec[k++] = ERL_DRV_PORT; spec[k++] = me;
    for (i = 0; i < n; i++) {
        spec[k++] = ERL_DRV_PORT; spec[k++] = v[i];
    }
    spec[k++] = ERL_DRV_NIL;
    spec[k++] = ERL_DRV_LIST; spec[k++] = (ErlDrvTermData)(n + 1);
    spec[k++] = ERL_DRV_TUPLE; spec[k++] = 3;
    erl_drv_send_term(me, driver_caller(gp->port), spec, (int)k);
    driver_free(spec);
    if (v) driver_free(v);
    return reply_status(rbuf, rsize, GS_REP_SENT);
}

static ErlDrvSSizeT socket_control(gs_port *gp, unsigned cmd, const char *buf,
                                   ErlDrvSizeT len, char **rbuf,
                                   ErlDrvSizeT rsize)
{
    gs_socket *s = gp->s;
    ErlDrvTermData caller = driver_caller(gp->port);
    struct sockaddr_storage ss;
    socklen_t sl;
    int rc = GS_ERR, err = EINVAL;

    if (cmd != GS_REQ_CANCEL && socket_gone(s))
        return reply_err(rbuf, rsize, GS_ECLOSED);
    switch (cmd) {
    case GS_REQ_RECV: {
        gs_reply r;
        if (len != 4) break;
        if (get_u32(buf) > GS_MAX_RECV) { err = ENOMEM; break; }
        gs_socket_lock(s);
        s->owner = driver_connected(gp->port);
        rc = gs_socket_recv(s, caller, get_u32(buf), &r, &err);
        gs_socket_unlock(s);
        if (rc == GS_OK) {
            *rbuf = (char *)r.bin;
            return (ErlDrvSSizeT)r.len;
        }
        break;
    }
    case GS_REQ_SEND:
        gs_socket_lock(s);
        s->owner = driver_connected(gp->port);
        rc = gs_socket_send(s, caller, buf, len, &err);
        if (rc == GS_WAIT) {
            int32_t t = s->send_timeout;
            gs_socket_unlock(s);
            return reply_u32(rbuf, rsize, GS_REP_WAIT, (uint32_t)t);
        }
        gs_socket_unlock(s);
        break;
    case GS_REQ_ACCEPT:
        if (len != 4) break;
        gs_socket_lock(s);
        s->owner = driver_connected(gp->port);
        rc = gs_socket_accept(s, caller, (int)get_u32(buf), &err);
        gs_socket_unlock(s);
        break;
    case GS_REQ_CONNECT:
        if (decode_sockaddr(s, buf, len, &ss, &sl) < 0) break;
        gs_socket_lock(s);
        s->owner = driver_connected(gp->port);
        rc = gs_socket_connect(s, caller, (struct sockaddr *)&ss, sl, &err);
        gs_socket_unlock(s);
        break;
    case GS_REQ_BIND:
        if (decode_sockaddr(s, buf, len, &ss, &sl) < 0) break;
        gs_socket_lock(s);
        if (s->state != GS_ST_OPEN)
            err = EINVAL;
        else if (bind(s->fd, (struct sockaddr *)&ss, sl) < 0)
            err = errno;
        else
            rc = GS_OK;
        gs_socket_unlock(s);
        break;
    case GS_REQ_LISTEN:
        if (len != 4) break;
        gs_socket_lock(s);
        if (s->state != GS_ST_OPEN) {
            err = EINVAL;
        } else if (listen(s->fd, (int)get_u32(buf)) < 0) {
            err = errno;
        } else {
            s->state = GS_ST_LISTEN;
            rc = GS_OK;
        }
        gs_socket_unlock(s);
        break;
    case GS_REQ_CANCEL: {
        int done;
        if (len != 0) break;
        gs_socket_lock(s);
        done = gs_socket_cancel(s, caller);
        gs_socket_unlock(s);
        return reply_status(rbuf, rsize, done ? GS_REP_OK : GS_REP_ERROR);
    }
    case GS_REQ_SHUTDOWN:
        if (len != 1 || (unsigned char)buf[0] > 2) break;
        gs_socket_lock(s);
        rc = gs_socket_shutdown(s, (unsigned char)buf[0], &err);
        gs_socket_unlock(s);
        break;
    case GS_REQ_ATTACH:
        /* First call on an accepted socket: it joins its pollset's list
         * (gs_socket_lock) and, if inherited options make it active,
         * arms its reader.  The accepting dispatch could not: it held
         * another pollset's mutex. */
        if (len != 0) break;
        gs_socket_lock(s);
        s->owner = driver_connected(gp->port);
        gs_socket_options_changed(s);
        gs_socket_unlock(s);
        rc = GS_OK;
        break;
    case GS_REQ_SOCKINFO:
        if (len != 0) break;
        return reply_u32(rbuf, rsize, GS_REP_OK, (uint32_t)s->ps->index);
    case GS_REQ_EXIT:
        /* From the poller: this socket's end was reported with
         * exit_on_close; the port ends, in its own callback (rule 2). */
        if (len != 0) break;
        gs_socket_lock(s);
        rc = gs_socket_ended(s);
        gs_socket_unlock(s);
        if (rc) driver_exit(gp->port, 0);
        return reply_status(rbuf, rsize, GS_REP_OK);
    default:
        break;
    }
    return rc_reply(rc, err, rbuf, rsize);
}

static int socket_ended(gs_port *gp)
{
    int r;
    /* Unlocked hint first (the fast path takes no extra lock): the state
     * was set under the mutex before {tcp_closed, S} was sent, and a
     * caller that saw the message sees the state. */
    if (__atomic_load_n(&gp->s->state, __ATOMIC_ACQUIRE) !=
        GS_ST_CLOSED_ACTIVE)
        return 0;
    gs_socket_lock(gp->s);
    r = gs_socket_ended(gp->s);
    gs_socket_unlock(gp->s);
    return r;
}

/* ---- callbacks ----------------------------------------------------------- */

static int drv_init(void)
{
    gs_atoms_init();
    gs_parse_init();
    if (gs_closer_init() < 0) return -1;
    return gs_registry_init();
}

static void drv_finish(void)
{
    gs_registry_finish();
    gs_closer_finish();
}

/* A port made by accept (driver_create_port) learns its own handle from
 * its socket, where accept_one publishes it last; until then it answers
 * nothing.  Every other port has it from drv_start. */
static int port_known(gs_port *gp)
{
    if (GS_LIKELY(gp->port != NULL)) return 1;
    if (gp->kind == GS_PORT_SOCKET && gp->s)
        gp->port = __atomic_load_n(&gp->s->port, __ATOMIC_ACQUIRE);
    return gp->port != NULL;
}

static ErlDrvData drv_start(ErlDrvPort port, char *cmd)
{
    gs_port *gp = driver_alloc(sizeof *gp);
    (void)cmd;
    if (!gp) return ERL_DRV_ERROR_GENERAL;
    memset(gp, 0, sizeof *gp);
    gp->port = port;
    gp->kind = GS_PORT_NEW;
    /* Pollset threads and driver-global state must outlive any one
     * port: keep the code loaded for the life of the VM. */
    if (!__sync_lock_test_and_set(&driver_locked, 1))
        driver_lock_driver(port);
    return (ErlDrvData)gp;
}

static void drv_stop(ErlDrvData d)
{
    gs_port *gp = (gs_port *)d;
    if (gp->kind == GS_PORT_SOCKET)
        gs_socket_stop(gp->s);
    else if (gp->kind == GS_PORT_POLLER)
        gs_pollset_destroy(gp->ps);
    driver_free(gp);
}

static ErlDrvSSizeT drv_control(ErlDrvData d, unsigned int command, char *buf,
                                ErlDrvSizeT len, char **rbuf,
                                ErlDrvSizeT rsize)
{
    gs_port *gp = (gs_port *)d;
    unsigned cmd = command;

    if (!port_known(gp)) return -1;     /* badarg: the port is not made yet */
    if (cmd >= GS_INET_CTL_MAGIC && cmd < GS_INET_CTL_MAGIC + 100)
        cmd -= GS_INET_CTL_MAGIC;

    if (gp->kind == GS_PORT_SOCKET && cmd != GS_REQ_EXIT &&
        socket_ended(gp)) {
        /* After {tcp_closed, S} with exit_on_close inet_drv's port is
         * gone; ours goes now if the poller has not ended it yet, and the
         * call fails as on a closed port: prim_inet's requests einval
         * (its answer to badarg), gen_socket's 'closed'. */
        ErlDrvSSizeT n;
        if (cmd < 100) {
            set_port_control_flags(gp->port, 0);
            n = gs_inet_error(EINVAL, rbuf, rsize);
        } else {
            set_port_control_flags(gp->port, PORT_CONTROL_FLAG_BINARY);
            n = reply_err(rbuf, rsize, GS_ECLOSED);
        }
        driver_exit(gp->port, 0);
        return n;
    }

    if (cmd < 100) {
        /* prim_inet's requests: list replies */
        ErlDrvSSizeT n;
        set_port_control_flags(gp->port, 0);
        if (gp->kind != GS_PORT_SOCKET)
            return gs_inet_error(EINVAL, rbuf, rsize);
        if (socket_gone(gp->s))     /* as prim_inet on a closed port */
            return gs_inet_error(EINVAL, rbuf, rsize);
        gs_socket_lock(gp->s);
        gp->s->owner = driver_connected(gp->port);
        n = gs_inet_control(gp->s, cmd, buf, len, rbuf, rsize,
                            driver_caller(gp->port));
        gs_socket_unlock(gp->s);
        return n;
    }

    set_port_control_flags(gp->port, PORT_CONTROL_FLAG_BINARY);
    switch (cmd) {
    case GS_REQ_POLLER_START:
        return poller_start(gp, buf, len, rbuf, rsize);
    case GS_REQ_SET_POLICY:
        if (len != 1 || (unsigned char)buf[0] > 2)
            return reply_err(rbuf, rsize, EINVAL);
        gs_registry_set_policy((unsigned char)buf[0]);
        return reply_status(rbuf, rsize, GS_REP_OK);
    case GS_REQ_OPEN:
        return socket_open(gp, buf, len, rbuf, rsize);
    case GS_REQ_ORPHANS:
        if (gp->kind != GS_PORT_NEW || len != 0)
            return reply_err(rbuf, rsize, EINVAL);
        return take_orphans(gp, rbuf, rsize);
    default:
        break;
    }
    if (gp->kind == GS_PORT_POLLER)
        return len == 0 ? poller_control(gp, cmd, rbuf, rsize)
                        : reply_err(rbuf, rsize, EINVAL);
    if (gp->kind == GS_PORT_SOCKET)
        return socket_control(gp, cmd, buf, len, rbuf, rsize);
    return reply_err(rbuf, rsize, EINVAL);
}

static void drv_outputv(ErlDrvData d, ErlIOVec *ev)
{
    gs_port *gp = (gs_port *)d;
    ErlDrvTermData caller;
    gs_socket *s = gp->s;
    int rc, err = EINVAL;

    if (!port_known(gp)) return;    /* only a port not made yet: nobody
                                     * who got it from accept can be here */
    caller = driver_caller(gp->port);

    if (gp->kind != GS_PORT_SOCKET) {
        ErlDrvTermData spec[] = {
            ERL_DRV_ATOM, am_gs, ERL_DRV_PORT, driver_mk_port(gp->port),
            ERL_DRV_ATOM, am_error, ERL_DRV_ATOM, driver_mk_atom("einval"),
            ERL_DRV_TUPLE, 2, ERL_DRV_TUPLE, 3 };
        erl_drv_send_term(driver_mk_port(gp->port), caller, spec,
                          sizeof spec / sizeof spec[0]);
        return;
    }
    gs_socket_lock(s);
    s->owner = driver_connected(gp->port);
    rc = gs_socket_sendv(s, caller, ev, &err);
    if (rc == GS_WAIT) {
        /* The caller learns its send timeout; the completion follows
         * from the pollset. */
        ErlDrvTermData spec[] = {
            ERL_DRV_ATOM, am_gs, ERL_DRV_PORT, s->port_term,
            ERL_DRV_ATOM, driver_mk_atom("wait"),
            ERL_DRV_INT, (ErlDrvTermData)(ErlDrvSInt)s->send_timeout,
            ERL_DRV_TUPLE, 2, ERL_DRV_TUPLE, 3 };
        erl_drv_send_term(s->port_term, caller, spec,
                          sizeof spec / sizeof spec[0]);
    }
    gs_socket_unlock(s);
    if (rc == GS_OK) gs_socket_reply_status(s, caller, 0);
    else if (rc == GS_ERR) gs_socket_reply_status(s, caller, err);
}

/* gs_socket.c monitors a process only to see whether it lives and takes
 * the monitor off at once; nothing is left to fire here. */
static void drv_process_exit(ErlDrvData d, ErlDrvMonitor *m)
{
    (void)d;
    (void)m;
}

static void drv_ready_input(ErlDrvData d, ErlDrvEvent ev)
{
    gs_port *gp = (gs_port *)d;
    (void)ev;
    if (gp->kind != GS_PORT_POLLER) return;
    gs_pollset_drain_signal(gp->ps);
    {
        ErlDrvTermData spec[] = {
            ERL_DRV_ATOM, am_gs_poll, ERL_DRV_PORT, gp->ps->port_term,
            ERL_DRV_TUPLE, 2 };
        erl_drv_output_term(gp->ps->port_term, spec,
                            sizeof spec / sizeof spec[0]);
    }
}

static void drv_stop_select(ErlDrvEvent ev, void *reserved)
{
    (void)reserved;
    close((int)(long)ev);
}

static ErlDrvEntry gs_driver_entry = {
    drv_init,
    drv_start,
    drv_stop,
    NULL,                   /* output: everything comes through outputv */
    drv_ready_input,
    NULL,                   /* ready_output */
    "gen_socket_drv",
    drv_finish,
    NULL,                   /* handle */
    drv_control,
    NULL,                   /* timeout */
    drv_outputv,
    NULL,                   /* ready_async */
    NULL,                   /* flush */
    NULL,                   /* call */
    NULL,                   /* event */
    ERL_DRV_EXTENDED_MARKER,
    ERL_DRV_EXTENDED_MAJOR_VERSION,
    ERL_DRV_EXTENDED_MINOR_VERSION,
    ERL_DRV_FLAG_USE_PORT_LOCKING,
    NULL,                   /* handle2 */
    drv_process_exit,       /* process_exit: monitors are only probes */
    drv_stop_select,
#if GS_HAVE_EMERGENCY_CLOSE
    NULL,                   /* emergency_close: driver API 3.2+ only */
#endif
};

DRIVER_INIT(gen_socket_drv)
{
    return &gs_driver_entry;
}
