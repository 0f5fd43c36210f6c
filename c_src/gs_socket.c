/* gs_socket.c -- a socket's I/O: reads and framing, active delivery,
 * the send queue, accept and connect, and their completion messages.
 *
 * Two contexts call in here, both with the pollset mutex held:
 *  - the socket port's callbacks (synchronous fast paths; messages they
 *    send go out with the socket port as sender, and only to a caller
 *    that waits for exactly that reply);
 *  - pollset dispatch (libev callbacks run by the poller port on its
 *    scheduler); every asynchronous message to an owner goes out from
 *    there, with the poller port as sender, so their order is kept.
 * No driver call here ever targets a port other than the one whose
 * callback runs (driver_create_port takes the running port as creator).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "gs_socket.h"
#include "gs_packet.h"
#include "gs_parse.h"
#include "gs_atoms.h"
#include "gs_closer.h"
#include "gs_sendfile.h"

#define GS_READ_MIN     4096
#define GS_IOV_MAX      64
#define GS_DELIVER_NOW_ROUNDS 16 /* budgets delivered inside setopts */

static void on_readable(struct ev_loop *loop, ev_io *w, int revents);
static void on_writable(struct ev_loop *loop, ev_io *w, int revents);
static void update_read_watch(gs_socket *s);

/* ---- errors -------------------------------------------------------------- */

const char *gs_errstr(int err)
{
    if (err == GS_ECLOSED) return "closed";
    if (err == GS_ETIMEOUT) return "timeout";
    if (err == EMSGSIZE) return "emsgsize";
    return erl_errno_id(err);
}

/* ---- lifetime ------------------------------------------------------------ */

gs_socket *gs_socket_new(ErlDrvPort port)
{
    gs_socket *s = driver_alloc(sizeof *s);
    if (!s) return NULL;
    memset(s, 0, sizeof *s);
    s->refc = 1;
    s->fd = -1;
    s->port = port;
    if (port) s->port_term = driver_mk_port(port);
    /* inet_drv's defaults; gen_socket's own defaults (binary, passive)
     * are applied by the Erlang side through setopts, as for gen_tcp. */
    s->active = GS_ACTIVE;
    s->mode = GS_MODE_LIST;
    s->htype = 0;
    s->exitf = 1;
    s->delimiter = '\n';
    s->bufsz = 1460;
    s->deliver = GS_DELIVER_TERM;
    s->send_timeout = -1;
    s->high = 8192;
    s->low = 4096;
    s->msgq_high = 8192;
    s->msgq_low = 4096;
    s->read_size = GS_READ_MIN;
    s->sf.fd = -1;
    ev_init(&s->rio, on_readable);
    ev_init(&s->wio, on_writable);
    s->rio.data = s->wio.data = s;
    return s;
}

void gs_socket_ref(gs_socket *s)
{
    __sync_add_and_fetch(&s->refc, 1);
}

static void sendq_clear(gs_sendq *q);

void gs_socket_unref(gs_socket *s)
{
    if (__sync_sub_and_fetch(&s->refc, 1) != 0)
        return;
    sendq_clear(&s->sq);
    if (s->sq.ents) driver_free(s->sq.ents);
    if (s->in.base && !s->in.borrowed) driver_free(s->in.base);
    if (s->acceptq.v) driver_free(s->acceptq.v);
    if (s->sendq_waiters.v) driver_free(s->sendq_waiters.v);
    driver_free(s);
}

/* The socket joins ps (whose reference and socket count come from the
 * pick); the pollset holds a reference on the socket for as long as it
 * may have its fd in a watcher or the socket on its lists (rule 7),
 * dropped in gs_socket_stop once both are gone. */
void gs_socket_attach(gs_socket *s, gs_pollset *ps)
{
    s->ps = ps;
    gs_socket_ref(s);
}

void gs_socket_lock(gs_socket *s)
{
    gs_pollset_lock_op(s->ps);
    if (!s->attached && !s->ps->dead) {
        gs_pollset_attach(s->ps, s);
        s->attached = 1;
    }
}

void gs_socket_unlock(gs_socket *s)
{
    erl_drv_mutex_unlock(s->ps->mtx);
}

void gs_socket_inherit(gs_socket *s, const gs_socket *l)
{
    s->active = l->active;
    s->active_count = l->active_count;
    s->mode = l->mode;
    s->htype = l->htype;
    s->hsz = l->hsz;
    s->exitf = l->exitf;
    s->delimiter = l->delimiter;
    s->show_econnreset = l->show_econnreset;
    s->debug = l->debug;
    s->psize = l->psize;
    s->bufsz = l->bufsz;
    s->bufsz_set = l->bufsz_set;
    s->deliver = l->deliver;
    s->delay_send = l->delay_send;
    s->send_timeout = l->send_timeout;
    s->send_timeout_close = l->send_timeout_close;
    s->high = l->high;
    s->low = l->low;
    s->msgq_high = l->msgq_high;
    s->msgq_low = l->msgq_low;
    s->family = l->family;
}

/* ---- messages ------------------------------------------------------------ */

static void send_spec(ErlDrvTermData from, ErlDrvTermData to,
                      ErlDrvTermData *spec, int n)
{
    if (to) erl_drv_send_term(from, to, spec, n);
}

/* The bytes a packet delivers: without a 1/2/4 header or fcgi padding. */
static void packet_body(const gs_socket *s, const char **p, size_t *len)
{
    size_t h = gs_packet_header_size(s->htype);
    *len -= gs_packet_trailer_size(s->htype, *p, *len) + h;
    *p += h;
}

/* {header, N} in binary mode: [B1, ..., BN | Binary] for a packet of at
 * least N bytes, as gen_tcp. */
static size_t header_bytes(const gs_socket *s, size_t len)
{
    if (s->mode != GS_MODE_BINARY || s->hsz <= 0 || len < (size_t)s->hsz)
        return 0;
    return (size_t)s->hsz;
}

/* Spec entries the data term of a body of len bytes needs. */
static size_t data_term_size(const gs_socket *s, size_t len)
{
    return 2 * header_bytes(s, len) + 5;
}

/* Puts the data term of a packet body into spec; returns the count. */
static int data_term(const gs_socket *s, ErlDrvTermData *spec, const char *p,
                     size_t len)
{
    size_t hb = header_bytes(s, len), k;
    int i = 0;
    if (s->mode == GS_MODE_BINARY && s->hsz > 0 && hb == 0) {
        spec[i++] = ERL_DRV_STRING;     /* shorter than the header: a list */
    } else {
        for (k = 0; k < hb; k++) {
            spec[i++] = ERL_DRV_UINT;
            spec[i++] = (ErlDrvTermData)(unsigned char)p[k];
        }
        spec[i++] = s->mode == GS_MODE_BINARY ? ERL_DRV_BUF2BINARY
                                              : ERL_DRV_STRING;
        p += hb;
        len -= hb;
    }
    spec[i++] = (ErlDrvTermData)p;
    spec[i++] = (ErlDrvTermData)len;
    if (hb) {
        spec[i++] = ERL_DRV_LIST;
        spec[i++] = (ErlDrvTermData)(hb + 1);
    }
    return i;
}

/* A spec buffer: on the stack for the usual sizes. */
#define SPEC_STACK 32
static ErlDrvTermData *spec_alloc(ErlDrvTermData *stack, size_t n)
{
    return n <= SPEC_STACK ? stack : driver_alloc(n * sizeof *stack);
}

static void spec_free(ErlDrvTermData *stack, ErlDrvTermData *spec)
{
    if (spec && spec != stack) driver_free(spec);
}

/* {'$gs', S, Reply} to a waiter */
static void reply_ok(gs_socket *s, ErlDrvTermData from, ErlDrvTermData to)
{
    ErlDrvTermData spec[] = {
        ERL_DRV_ATOM, am_gs, ERL_DRV_PORT, s->port_term,
        ERL_DRV_ATOM, am_ok, ERL_DRV_TUPLE, 3 };
    send_spec(from, to, spec, sizeof spec / sizeof spec[0]);
}

static void reply_error(gs_socket *s, ErlDrvTermData from, ErlDrvTermData to,
                        int err)
{
    ErlDrvTermData spec[] = {
        ERL_DRV_ATOM, am_gs, ERL_DRV_PORT, s->port_term,
        ERL_DRV_ATOM, am_error,
        ERL_DRV_ATOM, driver_mk_atom((char *)gs_errstr(err)),
        ERL_DRV_TUPLE, 2, ERL_DRV_TUPLE, 3 };
    send_spec(from, to, spec, sizeof spec / sizeof spec[0]);
}

/* {'$gs', S, {ok, Term}} for the packet types delivered as terms */
static void reply_parsed(gs_socket *s, ErlDrvTermData from, ErlDrvTermData to,
                         const char *p, size_t len)
{
    ErlDrvTermData spec[GS_PARSE_SPEC_MAX + 10];
    gs_parse_buf buf;
    int i = 0;
    spec[i++] = ERL_DRV_ATOM; spec[i++] = am_gs;
    spec[i++] = ERL_DRV_PORT; spec[i++] = s->port_term;
    spec[i++] = ERL_DRV_ATOM; spec[i++] = am_ok;
    i += gs_parse_term(s->htype, &s->http_state, p, len, s->port_term, &buf,
                       spec + i);
    spec[i++] = ERL_DRV_TUPLE; spec[i++] = 2;
    spec[i++] = ERL_DRV_TUPLE; spec[i++] = 3;
    send_spec(from, to, spec, i);
    gs_parse_done(&buf);
}

static void reply_data(gs_socket *s, ErlDrvTermData from, ErlDrvTermData to,
                       const char *p, size_t len)
{
    ErlDrvTermData stack[SPEC_STACK], *spec;
    int i = 0;
    if (gs_parse_is_term(s->htype)) {
        reply_parsed(s, from, to, p, len);
        return;
    }
    packet_body(s, &p, &len);
    spec = spec_alloc(stack, data_term_size(s, len) + 10);
    if (!spec) { reply_error(s, from, to, ENOMEM); return; }
    spec[i++] = ERL_DRV_ATOM; spec[i++] = am_gs;
    spec[i++] = ERL_DRV_PORT; spec[i++] = s->port_term;
    spec[i++] = ERL_DRV_ATOM; spec[i++] = am_ok;
    i += data_term(s, spec + i, p, len);
    spec[i++] = ERL_DRV_TUPLE; spec[i++] = 2;
    spec[i++] = ERL_DRV_TUPLE; spec[i++] = 3;
    send_spec(from, to, spec, i);
    spec_free(stack, spec);
}

static void notify_simple(gs_socket *s, ErlDrvTermData from,
                          ErlDrvTermData tag)
{
    ErlDrvTermData spec[] = {
        ERL_DRV_ATOM, tag, ERL_DRV_PORT, s->port_term, ERL_DRV_TUPLE, 2 };
    send_spec(from, s->owner, spec, sizeof spec / sizeof spec[0]);
}

/* {http, S, Term}, or the bare {ssl_tls, S, ...} */
static void notify_parsed(gs_socket *s, ErlDrvTermData from, const char *p,
                          size_t len)
{
    ErlDrvTermData spec[GS_PARSE_SPEC_MAX + 6];
    gs_parse_buf buf;
    int i = 0, bare = gs_parse_is_bare(s->htype);
    if (!bare) {
        spec[i++] = ERL_DRV_ATOM; spec[i++] = am_http;
        spec[i++] = ERL_DRV_PORT; spec[i++] = s->port_term;
    }
    i += gs_parse_term(s->htype, &s->http_state, p, len, s->port_term, &buf,
                       spec + i);
    if (!bare) {
        spec[i++] = ERL_DRV_TUPLE; spec[i++] = 3;
    }
    send_spec(from, s->owner, spec, i);
    gs_parse_done(&buf);
}

/* {deliver, port}: the message a port sends, {S, {data, Bytes}}, with
 * the bytes as a list in either mode, as gen_tcp's port gives them. */
static void notify_port_data(gs_socket *s, ErlDrvTermData from, const char *p,
                             size_t len)
{
    ErlDrvTermData spec[] = {
        ERL_DRV_PORT, s->port_term, ERL_DRV_ATOM, am_data,
        ERL_DRV_STRING, (ErlDrvTermData)p, (ErlDrvTermData)len,
        ERL_DRV_TUPLE, 2, ERL_DRV_TUPLE, 2 };
    send_spec(from, s->owner, spec, sizeof spec / sizeof spec[0]);
}

static void notify_data(gs_socket *s, ErlDrvTermData from, const char *p,
                        size_t len)
{
    ErlDrvTermData stack[SPEC_STACK], *spec;
    int i = 0;
    if (gs_parse_is_term(s->htype)) {
        notify_parsed(s, from, p, len);
        return;
    }
    packet_body(s, &p, &len);
    if (s->deliver == GS_DELIVER_PORT) {
        notify_port_data(s, from, p, len);
        return;
    }
    spec = spec_alloc(stack, data_term_size(s, len) + 6);
    if (!spec) return;      /* out of memory: the packet is lost, as any */
    spec[i++] = ERL_DRV_ATOM; spec[i++] = am_tcp;
    spec[i++] = ERL_DRV_PORT; spec[i++] = s->port_term;
    i += data_term(s, spec + i, p, len);
    spec[i++] = ERL_DRV_TUPLE; spec[i++] = 3;
    send_spec(from, s->owner, spec, i);
    spec_free(stack, spec);
}

static void notify_error(gs_socket *s, ErlDrvTermData from, int err)
{
    ErlDrvTermData spec[] = {
        ERL_DRV_ATOM, am_tcp_error, ERL_DRV_PORT, s->port_term,
        ERL_DRV_ATOM, driver_mk_atom((char *)gs_errstr(err)),
        ERL_DRV_TUPLE, 3 };
    send_spec(from, s->owner, spec, sizeof spec / sizeof spec[0]);
}

/* ---- waiter queues ------------------------------------------------------- */

static int waitq_push(gs_waitq *q, ErlDrvTermData pid, int sched)
{
    if (q->n == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 4;
        gs_waiter *v = driver_realloc(q->v, ncap * sizeof *v);
        if (!v) return -1;
        q->v = v;
        q->cap = ncap;
    }
    q->v[q->n].pid = pid;
    q->v[q->n].sched = sched;
    q->n++;
    return 0;
}

static int waitq_find(gs_waitq *q, ErlDrvTermData pid)
{
    size_t i;
    for (i = 0; i < q->n; i++)
        if (q->v[i].pid == pid) return (int)i;
    return -1;
}

static void waitq_remove(gs_waitq *q, size_t i)
{
    memmove(q->v + i, q->v + i + 1, (q->n - i - 1) * sizeof *q->v);
    q->n--;
}

/* Completes every waiter of s with an error. */
static void fail_waiters(gs_socket *s, ErlDrvTermData from, int err)
{
    size_t i;
    if (s->recv_pid) reply_error(s, from, s->recv_pid, err);
    if (s->connect_pid) reply_error(s, from, s->connect_pid, err);
    s->recv_pid = s->connect_pid = 0;
    for (i = 0; i < s->acceptq.n; i++)
        reply_error(s, from, s->acceptq.v[i].pid, err);
    s->acceptq.n = 0;
    for (i = 0; i < s->sendq_waiters.n; i++)
        reply_error(s, from, s->sendq_waiters.v[i].pid, err);
    s->sendq_waiters.n = 0;
}

/* ---- the receive buffer -------------------------------------------------- */

static size_t in_len(const gs_socket *s)
{
    return s->in.end - s->in.start;
}

/* Makes room for at least need more bytes after the data. */
static int in_reserve(gs_socket *s, size_t need)
{
    gs_buf *b = &s->in;
    size_t len = b->end - b->start, ncap;
    char *nb;

    if (b->base && b->cap - b->end >= need)
        return 0;
    if (b->base && !b->borrowed && b->cap - len >= need) {
        memmove(b->base, b->base + b->start, len);
        b->start = 0;
        b->end = len;
        return 0;
    }
    ncap = b->cap > GS_READ_MIN ? b->cap : GS_READ_MIN;
    while (ncap - len < need) ncap *= 2;
    nb = driver_alloc(ncap);
    if (!nb) return -1;
    if (len) memcpy(nb, b->base + b->start, len);
    if (b->base && !b->borrowed) driver_free(b->base);
    b->base = nb;
    b->cap = ncap;
    b->start = 0;
    b->end = len;
    b->borrowed = 0;
    return 0;
}

static void in_consume(gs_socket *s, size_t n)
{
    gs_buf *b = &s->in;
    b->start += n;
    if (b->start == b->end) {
        /* An idle socket keeps no buffer. */
        if (!b->borrowed && b->base) driver_free(b->base);
        memset(b, 0, sizeof *b);
    }
}

/* Data left in the pollset's scratch buffer moves to the socket's own
 * before the mutex is released. */
static void in_unborrow(gs_socket *s)
{
    gs_buf *b = &s->in;
    if (!b->borrowed) return;
    if (b->start == b->end) {
        memset(b, 0, sizeof *b);
        return;
    }
    {
        size_t len = b->end - b->start;
        char *old = b->base + b->start;
        char *nb = driver_alloc(len > GS_READ_MIN ? len : GS_READ_MIN);
        if (!nb) {      /* out of memory: nothing sane to keep */
            memset(b, 0, sizeof *b);
            s->rd_closed = 1;
            s->rd_err = ENOMEM;
            return;
        }
        memcpy(nb, old, len);
        b->base = nb;
        b->cap = len > GS_READ_MIN ? len : GS_READ_MIN;
        b->start = 0;
        b->end = len;
        b->borrowed = 0;
    }
}

/* inet_drv's statistics: running average and a running mean of the
 * signed deviation from the new average. */
static void count_input(gs_socket *s, size_t n)
{
    double len = (double)n;
    s->recv_cnt++;
    s->recv_oct += n;
    if (n > s->recv_max) s->recv_max = n;
    s->recv_avg += (len - s->recv_avg) / (double)s->recv_cnt;
    s->recv_dvi += ((len - s->recv_avg) - s->recv_dvi) / (double)s->recv_cnt;
}

/* One recv() into the buffer.  > 0 bytes read, 0 would block, -1 the read
 * side is closed (rd_closed, rd_err set). */
static ssize_t in_fill(gs_socket *s, size_t need)
{
    gs_buf *b = &s->in;
    size_t room;
    ssize_t n;

    if (s->bufsz_set)
        room = (size_t)s->bufsz;
    else
        room = (size_t)s->read_size;
    if (need > room) room = need;

    if (!b->base && room <= GS_SCRATCH_SIZE) {
        b->base = s->ps->scratch;
        b->cap = GS_SCRATCH_SIZE;
        b->start = b->end = 0;
        b->borrowed = 1;
    } else if (b->borrowed && b->cap - b->end < room) {
        if (b->cap - b->end < need || b->cap - b->end < 512) {
            in_unborrow(s);
            if (in_reserve(s, room) < 0) goto nomem;
        } else {
            room = b->cap - b->end;
        }
    } else if (in_reserve(s, room) < 0) {
        goto nomem;
    }

    for (;;) {
        n = recv(s->fd, b->base + b->end, room, 0);
        if (n > 0) {
            b->end += (size_t)n;
            count_input(s, (size_t)n);
            s->ps->round_bytes += (size_t)n;
            /* Adapt: a read that fills the request asks for more next. */
            if (!s->bufsz_set && (size_t)n == room &&
                s->read_size < GS_SCRATCH_SIZE)
                s->read_size *= 2;
            return n;
        }
        if (n == 0) {
            /* a reset a send saw first is still a reset for the reader */
            s->rd_closed = 1;
            s->rd_err = s->wr_err == ECONNRESET ? ECONNRESET : 0;
            return -1;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        s->rd_closed = 1;
        s->rd_err = errno;
        return -1;
    }
nomem:
    s->rd_closed = 1;
    s->rd_err = ENOMEM;
    return -1;
}

/* The next packet.  1: *pp and *pl point into s->in (consume with
 * in_consume); 0: would block; 2: *allow bytes were read and the packet is
 * not complete (budget spent: more may be waiting); -1: no more (read side
 * closed or a framing error), *err says why. */
static int in_take(gs_socket *s, size_t want, const char **pp, size_t *pl,
                   int *err, size_t *allow)
{
    ssize_t got;
    for (;;) {
        size_t len = in_len(s);
        if (len > 0) {
            long n = gs_packet_length(s->htype, s->in.base + s->in.start,
                                      len, want, s->psize, s->delimiter,
                                      (size_t)s->bufsz, s->http_state);
            if (n > 0) {
                *pp = s->in.base + s->in.start;
                *pl = (size_t)n;
                return 1;
            }
            if (n < 0) {
                *err = EMSGSIZE;
                return -1;
            }
        }
        if (s->rd_closed) {
            *err = s->rd_err;
            return -1;
        }
        if (*allow == 0)
            return 2;
        got = in_fill(s, gs_packet_need(s->htype, s->in.base ?
                                        s->in.base + s->in.start : NULL,
                                        len, want));
        if (got == 0)
            return 0;
        if (got > 0)
            *allow = (size_t)got >= *allow ? 0 : *allow - (size_t)got;
    }
}

/* How a read-side end is reported: 'closed' for EOF, and for a reset
 * unless show_econnreset is on; the posix name otherwise. */
static int closed_reason(gs_socket *s, int err)
{
    if (err == 0) return GS_ECLOSED;
    if (err == ECONNRESET && !s->show_econnreset) return GS_ECLOSED;
    return err;
}

/* inet_drv's port exits when it reports {tcp_closed, S} with
 * exit_on_close.  Dispatch cannot end another port (rule 2), so it asks
 * the poller process, {'$gen_socket_exit', S}; the poller's port_control
 * (GS_REQ_EXIT) runs in the socket port's own callback, which ends it.
 * Meanwhile any call on the port ends it and fails as on a closed port
 * (gs_drv.c). */
static void ask_port_end(gs_socket *s)
{
    ErlDrvTermData spec[] = {
        ERL_DRV_ATOM, am_gs_exit, ERL_DRV_PORT, s->port_term,
        ERL_DRV_TUPLE, 2 };
    if (s->end_asked || !s->exitf || !s->ps->poller_pid) return;
    s->end_asked = 1;
    erl_drv_send_term(s->ps->port_term, s->ps->poller_pid, spec,
                      sizeof spec / sizeof spec[0]);
}

int gs_socket_ended(gs_socket *s)
{
    return s->state == GS_ST_CLOSED_ACTIVE && s->exitf && !s->port_dead;
}

/* The connection is over and reported (exit_on_close): like inet_drv's
 * desc_close, the fd goes now; the port stays until its owner closes it. */
static void sock_down(gs_socket *s, ErlDrvTermData from, gs_sock_state st)
{
    size_t i;
    if (ev_is_active(&s->rio) || ev_is_pending(&s->rio))
        ev_io_stop(s->ps->loop, &s->rio);
    if (ev_is_active(&s->wio) || ev_is_pending(&s->wio))
        ev_io_stop(s->ps->loop, &s->wio);
    gs_sendfile_abort(s, from);
    sendq_clear(&s->sq);
    for (i = 0; i < s->sendq_waiters.n; i++)
        reply_error(s, from, s->sendq_waiters.v[i].pid, GS_ECLOSED);
    s->sendq_waiters.n = 0;
    in_unborrow(s);
    in_consume(s, in_len(s));
    gs_close_fd(s->fd);     /* never blocks: a lingering close is handed
                             * to the closer thread (rule 12) */
    s->fd = -1;
    s->state = st;
    if (st == GS_ST_CLOSED_ACTIVE) ask_port_end(s);
}

/* ---- receive ------------------------------------------------------------- */

int gs_socket_recv(gs_socket *s, ErlDrvTermData caller, size_t len,
                   gs_reply *r, int *err)
{
    const char *p;
    size_t pl, h, allow = GS_IO_BUDGET;
    int rc;

    if (s->ps->dead) { *err = GS_ECLOSED; return GS_ERR; }
    if (s->state != GS_ST_CONNECTED) {
        *err = s->state == GS_ST_CLOSED_ACTIVE ? GS_ECLOSED : ENOTCONN;
        if (s->sf_down == 1) {          /* once, as inet_drv */
            s->sf_down = 2;
            *err = GS_ECLOSED;
        }
        return GS_ERR;
    }
    if (s->active != GS_PASSIVE) { *err = EINVAL; return GS_ERR; }
    if (s->recv_pid) { *err = EALREADY; return GS_ERR; }
    if (len && s->htype != 0) { *err = EINVAL; return GS_ERR; }

    rc = in_take(s, len, &p, &pl, err, &allow);
    if (rc == 1 && gs_parse_is_term(s->htype)) {
        /* a term, not bytes: it goes as the message a waiter would get */
        reply_parsed(s, s->port_term, caller, p, pl);
        in_consume(s, pl);
        in_unborrow(s);
        return GS_SENT;
    }
    if (rc == 1) {
        size_t dl;
        h = gs_packet_header_size(s->htype);
        dl = pl - h - gs_packet_trailer_size(s->htype, p, pl);
        r->bin = driver_alloc_binary(1 + dl);
        if (!r->bin) { in_unborrow(s); *err = ENOMEM; return GS_ERR; }
        if (s->mode == GS_MODE_BINARY && s->hsz > 0) {
            /* {header, N}: <<5, N:32, Data>>, split by the caller */
            ErlDrvBinary *b = driver_realloc_binary(r->bin, 5 + dl);
            if (!b) { in_unborrow(s); *err = ENOMEM; return GS_ERR; }
            r->bin = b;
            b->orig_bytes[0] = 5;
            b->orig_bytes[1] = (char)((unsigned)s->hsz >> 24);
            b->orig_bytes[2] = (char)((unsigned)s->hsz >> 16);
            b->orig_bytes[3] = (char)((unsigned)s->hsz >> 8);
            b->orig_bytes[4] = (char)s->hsz;
            memcpy(b->orig_bytes + 5, p + h, dl);
            r->len = 5 + dl;
        } else {
            r->bin->orig_bytes[0] = s->mode == GS_MODE_BINARY ? 1 : 4;
            memcpy(r->bin->orig_bytes + 1, p + h, dl);
            r->len = 1 + dl;
        }
        in_consume(s, pl);
        in_unborrow(s);
        return GS_OK;
    }
    in_unborrow(s);
    if (rc < 0) {
        if (*err == EMSGSIZE) return GS_ERR;
        *err = closed_reason(s, *err);
        if (s->exitf) sock_down(s, s->port_term, GS_ST_EOF);
        return GS_ERR;
    }
    /* Would block, or the budget is spent (rc 2): dispatch goes on. */
    s->recv_pid = caller;
    s->recv_len = len;
    update_read_watch(s);
    return GS_WAIT;
}

/* Dispatch: serves the recv waiter, or delivers active messages, within
 * the per-socket budget.  Returns 1 if work is left for the next round. */
static int serve_input(gs_socket *s)
{
    ErlDrvTermData from = s->ps->port_term;
    const char *p;
    size_t pl, allow = GS_IO_BUDGET;
    int rc, err = 0, budget = GS_PACKET_BUDGET, left = 0;

    if (s->recv_pid) {
        rc = in_take(s, s->recv_len, &p, &pl, &err, &allow);
        if (rc == 2) {
            left = 1;
        } else if (rc == 1) {
            reply_data(s, from, s->recv_pid, p, pl);
            in_consume(s, pl);
            s->recv_pid = 0;
        } else if (rc < 0) {
            reply_error(s, from, s->recv_pid,
                        err == EMSGSIZE ? EMSGSIZE : closed_reason(s, err));
            s->recv_pid = 0;
            if (err != EMSGSIZE && s->exitf) {
                sock_down(s, from, GS_ST_EOF);
                return 0;
            }
        }
    }
    while (s->active != GS_PASSIVE && !s->closed_sent) {
        if (budget-- == 0) {
            /* The rest waits for the next round (rule 11). */
            left = 1;
            break;
        }
        rc = in_take(s, 0, &p, &pl, &err, &allow);
        if (rc == 0) break;
        if (rc == 2) { left = 1; break; }
        if (rc < 0) {
            int why = err == EMSGSIZE ? EMSGSIZE : closed_reason(s, err);
            if (why == EMSGSIZE) {
                /* as gen_tcp in active mode: the error, then closed; the
                 * read side is over (with exit_on_close, all of it) */
                notify_error(s, from, EMSGSIZE);
                notify_simple(s, from, am_tcp_closed);
                s->closed_sent = 1;
                s->rd_closed = 1;
                s->rd_err = EMSGSIZE;
                in_consume(s, in_len(s));
                if (s->exitf) {
                    in_unborrow(s);
                    sock_down(s, from, GS_ST_CLOSED_ACTIVE);
                    return 0;
                }
                break;
            }
            if (why != GS_ECLOSED) notify_error(s, from, why);
            notify_simple(s, from, am_tcp_closed);
            s->closed_sent = 1;
            if (s->exitf) {
                in_unborrow(s);
                sock_down(s, from, GS_ST_CLOSED_ACTIVE);
                return 0;
            }
            break;
        }
        notify_data(s, from, p, pl);
        in_consume(s, pl);
        if (s->active == GS_ONCE) {
            s->active = GS_PASSIVE;
        } else if (s->active == GS_MULTI && --s->active_count <= 0) {
            s->active_count = 0;
            s->active = GS_PASSIVE;
            s->notify_passive = 1;
        }
    }
    if (s->notify_passive) {
        s->notify_passive = 0;
        notify_simple(s, from, am_tcp_passive);
    }
    in_unborrow(s);
    return left;
}

/* Arms the reader when someone wants input.  A connected passive socket
 * without a waiter keeps an armed reader until it fires ("lazy disarm"):
 * in ping-pong the next recv comes before the next data, and the reader
 * then never leaves epoll, saving two epoll_ctl calls per message. */
static void update_read_watch(gs_socket *s)
{
    int want, keep = 0;
    if (s->port_dead || s->ps->dead || s->fd < 0)
        want = 0;
    else if (s->state == GS_ST_LISTEN)
        want = s->acceptq.n > 0;
    else if (s->state == GS_ST_CONNECTED) {
        want = !s->rd_closed && (s->recv_pid || s->active != GS_PASSIVE);
        keep = !s->rd_closed;
    } else
        want = 0;

    if (want && !ev_is_active(&s->rio)) {
        ev_io_set(&s->rio, s->fd, EV_READ);
        ev_io_start(s->ps->loop, &s->rio);
        gs_pollset_wake(s->ps);
    } else if (!want && !keep && ev_is_active(&s->rio)) {
        ev_io_stop(s->ps->loop, &s->rio);
    }
}

/* The reader fired for a passive socket nobody reads: now disarm, or
 * level-triggered epoll would fire again and again. */
static void disarm_idle_reader(gs_socket *s)
{
    if (s->state == GS_ST_CONNECTED && !s->recv_pid &&
        s->active == GS_PASSIVE && ev_is_active(&s->rio))
        ev_io_stop(s->ps->loop, &s->rio);
}

static void start_write_watch(gs_socket *s)
{
    if (!ev_is_active(&s->wio)) {
        ev_io_set(&s->wio, s->fd, EV_WRITE);
        ev_io_start(s->ps->loop, &s->wio);
        gs_pollset_wake(s->ps);
    }
}

/* Asks dispatch to look at this socket even if the fd is quiet: data
 * already buffered, a closed notice owed, a passive notice owed. */
static void kick(gs_socket *s)
{
    ev_feed_event(s->ps->loop, &s->rio, EV_READ);
    gs_pollset_wake(s->ps);
}

void gs_socket_options_changed(gs_socket *s)
{
    if (s->ps == NULL || s->ps->dead || s->port_dead) return;
    /* Watchers first: stopping one drops its pending (fed) event. */
    update_read_watch(s);
    if (s->state == GS_ST_CONNECTED) {
        if ((s->active != GS_PASSIVE &&
             (in_len(s) > 0 || (s->rd_closed && !s->closed_sent))) ||
            s->notify_passive)
            kick(s);
    } else if (s->notify_passive ||
               (s->state == GS_ST_EOF && s->active != GS_PASSIVE)) {
        kick(s);
    }
}

/* setopts made the socket active (or owes a notice): as inet_drv, what
 * is there is delivered inside the call, so the owner has it when setopts
 * returns and getopts counts it.  The sender is the poller port, as for
 * every active message: its sends are serialised by the pollset mutex
 * (held here and for every dispatch round), so rule 4's order holds.
 * erl_drv_send_term needs no lock of the sending port. */
void gs_socket_deliver_now(gs_socket *s)
{
    if (s->ps == NULL || s->ps->dead || s->port_dead || s->recv_pid) return;
    if (s->state == GS_ST_CONNECTED) {
        int rounds = 0;
        if (s->active == GS_PASSIVE && !s->notify_passive) return;
        /* inet_drv delivers all it has buffered; we do, up to
         * GS_DELIVER_NOW_ROUNDS dispatch budgets (the rest follows from
         * dispatch, in order) */
        do {
            serve_input(s);
        } while (++rounds < GS_DELIVER_NOW_ROUNDS &&
                 s->state == GS_ST_CONNECTED && s->active != GS_PASSIVE &&
                 !s->closed_sent && in_len(s) > 0);
        update_read_watch(s);
    } else {
        if (s->state == GS_ST_EOF && s->active != GS_PASSIVE &&
            !s->closed_sent) {
            notify_simple(s, s->ps->port_term, am_tcp_closed);
            s->closed_sent = 1;
            s->state = GS_ST_CLOSED_ACTIVE;
            ask_port_end(s);
        }
        if (s->notify_passive) {
            s->notify_passive = 0;
            notify_simple(s, s->ps->port_term, am_tcp_passive);
        }
    }
    if (ev_is_pending(&s->rio)) gs_pollset_wake(s->ps);
}

/* gen_tcp:unrecv/2: the bytes go back in front of the receive buffer. */
int gs_socket_unrecv(gs_socket *s, const char *p, size_t len, int *err)
{
    gs_buf *b = &s->in;
    size_t have = in_len(s);
    char *nb;

    if (s->state != GS_ST_CONNECTED) { *err = ENOTCONN; return GS_ERR; }
    if (len == 0) return GS_OK;
    nb = driver_alloc(have + len);
    if (!nb) { *err = ENOMEM; return GS_ERR; }
    memcpy(nb, p, len);
    if (have) memcpy(nb + len, b->base + b->start, have);
    if (b->base && !b->borrowed) driver_free(b->base);
    b->base = nb;
    b->cap = have + len;
    b->start = 0;
    b->end = have + len;
    b->borrowed = 0;
    gs_socket_options_changed(s);   /* active: deliver it */
    return GS_OK;
}

/* ---- the send queue ------------------------------------------------------ */

static void sendq_clear(gs_sendq *q)
{
    while (q->count) {
        gs_qent *e = &q->ents[q->head];
        driver_free_binary(e->bin);
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
    q->head = 0;
    q->bytes = 0;
}

static int sendq_push(gs_sendq *q, ErlDrvBinary *bin, char *ptr, size_t len)
{
    if (q->count == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 8, i;
        gs_qent *n = driver_alloc(ncap * sizeof *n);
        if (!n) return -1;
        for (i = 0; i < q->count; i++)
            n[i] = q->ents[(q->head + i) % q->cap];
        if (q->ents) driver_free(q->ents);
        q->ents = n;
        q->cap = ncap;
        q->head = 0;
    }
    q->ents[(q->head + q->count) % q->cap].bin = bin;
    q->ents[(q->head + q->count) % q->cap].ptr = ptr;
    q->ents[(q->head + q->count) % q->cap].len = len;
    q->count++;
    q->bytes += len;
    return 0;
}

/* Copies len bytes into a new queue entry. */
static int sendq_push_copy(gs_sendq *q, const char *p, size_t len)
{
    ErlDrvBinary *b;
    if (len == 0) return 0;
    b = driver_alloc_binary(len);
    if (!b) return -1;
    memcpy(b->orig_bytes, p, len);
    if (sendq_push(q, b, b->orig_bytes, len) < 0) {
        driver_free_binary(b);
        return -1;
    }
    return 0;
}

static void sendq_drop(gs_sendq *q, size_t n)
{
    q->bytes -= n;
    while (n > 0) {
        gs_qent *e = &q->ents[q->head];
        if (n < e->len) {
            e->ptr += n;
            e->len -= n;
            return;
        }
        n -= e->len;
        driver_free_binary(e->bin);
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
}

static void count_output(gs_socket *s, size_t n)
{
    s->send_cnt++;
    s->send_oct += n;
    if (n > s->send_max) s->send_max = n;
    s->send_avg += ((double)n - s->send_avg) / (double)s->send_cnt;
}

/* How a write error is reported; the socket's write side is dead. */
static int write_error(gs_socket *s, int err)
{
    s->wr_err = err;
    if (err == EPIPE || (err == ECONNRESET && !s->show_econnreset))
        return GS_ECLOSED;
    return err;
}

/* writev with MSG_NOSIGNAL (rule 10): a peer gone must give EPIPE, not
 * a SIGPIPE to the VM. */
static ssize_t sock_writev(int fd, struct iovec *iov, int cnt)
{
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = (size_t)cnt;
    return sendmsg(fd, &m, MSG_NOSIGNAL);
}

static int send_check(gs_socket *s, int *err)
{
    if (s->ps->dead) { *err = GS_ECLOSED; return -1; }
    if (s->state != GS_ST_CONNECTED) {
        *err = s->state == GS_ST_OPEN || s->state == GS_ST_LISTEN ||
               s->state == GS_ST_CONNECTING || s->state == GS_ST_TIMED_OUT ||
               s->sf_down ? ENOTCONN : GS_ECLOSED;
        return -1;
    }
    if (s->wr_err || s->wr_shut) {
        *err = s->wr_err ? write_error(s, s->wr_err) : GS_ECLOSED;
        return -1;
    }
    return 0;
}

/* As gen_tcp: a send into a socket whose queue is over the high watermark
 * ("busy") waits, without queueing, until dispatch drained it under the
 * low watermark, and is then made again; a send into a socket that is not
 * busy always queues what the kernel does not take. */
static int send_busy(gs_socket *s, ErlDrvTermData caller, int *err)
{
    if (s->sq.bytes <= s->high)
        return 0;
    if (waitq_push(&s->sendq_waiters, caller, 0) < 0) {
        *err = ENOMEM;
        return GS_ERR;
    }
    return GS_WAIT;
}


/* A send that waited for the queue timed out: with send_timeout_close the
 * connection goes, as in inet_drv (later calls say enotconn). */
void gs_socket_send_timed_out(gs_socket *s)
{
    if (s->send_timeout_close && s->state == GS_ST_CONNECTED)
        sock_down(s, s->port_term, GS_ST_TIMED_OUT);
}

/* {packet, 1 | 2 | 4}: the length header a send puts in front, as
 * inet_drv does (the length is cut to the header's width, no error). */
static size_t send_header(const gs_socket *s, size_t len, char *h)
{
    size_t n = gs_packet_header_size(s->htype), i;
    for (i = 0; i < n; i++)
        h[i] = (char)(len >> (8 * (n - 1 - i)));
    return n;
}

/* Write at once, or queue?  Queued data keeps its place in line; with
 * delay_send everything is queued and written by the pollset's next round,
 * so small sends made in between go out in one writev (gen_tcp sends
 * delayed data at the port's next poll). */
static int send_now(const gs_socket *s)
{
    return s->sq.bytes == 0 && !s->delay_send && s->sf.fd < 0;
}

static int send_plain(gs_socket *s, const char *buf,
                      size_t len, int *err)
{
    ssize_t n = 0;

    if (send_now(s)) {
        do {
            n = send(s->fd, buf, len, MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        if (n == (ssize_t)len) return GS_OK;
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                *err = write_error(s, errno);
                return GS_ERR;
            }
            n = 0;
        }
    }
    if (sendq_push_copy(&s->sq, buf + n, len - (size_t)n) < 0) {
        *err = ENOMEM;
        return GS_ERR;
    }
    start_write_watch(s);
    return GS_OK;
}

int gs_socket_send(gs_socket *s, ErlDrvTermData caller, const char *buf,
                   size_t len, int *err)
{
    char h[4];
    size_t hl;
    int rc;

    if (send_check(s, err) < 0) return GS_ERR;
    if ((rc = send_busy(s, caller, err)) != 0) return rc;
    count_output(s, len);
    hl = send_header(s, len, h);
    if (hl == 0)
        return len == 0 ? GS_OK : send_plain(s, buf, len, err);
    {
        /* Small data (the control path): one copy with the header. */
        char *tmp = driver_alloc(hl + len);
        if (!tmp) { *err = ENOMEM; return GS_ERR; }
        memcpy(tmp, h, hl);
        memcpy(tmp + hl, buf, len);
        rc = send_plain(s, tmp, hl + len, err);
        driver_free(tmp);
        return rc;
    }
}

int gs_socket_sendv(gs_socket *s, ErlDrvTermData caller, ErlIOVec *ev,
                    int *err)
{
    struct iovec sv[GS_IOV_MAX + 1], *iov = sv;
    ErlDrvBinary *sb[GS_IOV_MAX + 1], **bins = sb;
    char h[4];
    size_t hl, done = 0, total, skip;
    int i, cnt, first = 0, rc = GS_OK;

    if (send_check(s, err) < 0) return GS_ERR;
    if ((rc = send_busy(s, caller, err)) != 0) return rc;
    count_output(s, (size_t)ev->size);
    hl = send_header(s, (size_t)ev->size, h);
    total = (size_t)ev->size + hl;
    if (total == 0) return GS_OK;

    /* The header (if any), then the caller's binaries: no copy. */
    cnt = ev->vsize + (hl ? 1 : 0);
    if (cnt > GS_IOV_MAX + 1) {
        iov = driver_alloc(cnt * sizeof *iov);
        bins = driver_alloc(cnt * sizeof *bins);
        if (!iov || !bins) {
            if (iov && iov != sv) driver_free(iov);
            if (bins && bins != sb) driver_free(bins);
            *err = ENOMEM;
            return GS_ERR;
        }
    }
    i = 0;
    if (hl) {
        iov[0].iov_base = h;
        iov[0].iov_len = hl;
        bins[0] = NULL;
        i = 1;
    }
    for (cnt = 0; cnt < ev->vsize; cnt++, i++) {
        iov[i].iov_base = ev->iov[cnt].iov_base;
        iov[i].iov_len = ev->iov[cnt].iov_len;
        bins[i] = ev->binv ? ev->binv[cnt] : NULL;
    }
    cnt = i;

    if (send_now(s)) {
        while (first < cnt && done < total) {
            int n_iov = cnt - first;
            ssize_t n;
            size_t acc = 0;
            int j;
            if (n_iov > IOV_MAX) n_iov = IOV_MAX;
            if (done >= GS_SEND_BUDGET)
                break;  /* the rest is queued: dispatch writes it */
            n = sock_writev(s->fd, iov + first, n_iov);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                *err = write_error(s, errno);
                rc = GS_ERR;
                goto out;
            }
            done += (size_t)n;
            /* Advance over fully written vectors. */
            for (j = 0; j < first; j++) acc += iov[j].iov_len;
            while (first < cnt && acc + iov[first].iov_len <= done) {
                acc += iov[first].iov_len;
                first++;
            }
            if (first < cnt && acc < done)
                break;  /* partial vector: the kernel is full */
        }
        if (done == total) goto out;
    }
    /* Queue the rest by reference (copying only what has no binary). */
    skip = done;
    for (i = 0; i < cnt; i++) {
        size_t l = iov[i].iov_len;
        char *p = iov[i].iov_base;
        if (skip >= l) { skip -= l; continue; }
        p += skip;
        l -= skip;
        skip = 0;
        if (bins[i]) {
            driver_binary_inc_refc(bins[i]);
            if (sendq_push(&s->sq, bins[i], p, l) < 0) {
                driver_free_binary(bins[i]);
                *err = ENOMEM;
                rc = GS_ERR;
                goto out;
            }
        } else if (sendq_push_copy(&s->sq, p, l) < 0) {
            *err = ENOMEM;
            rc = GS_ERR;
            goto out;
        }
    }
    start_write_watch(s);
out:
    if (iov != sv) driver_free(iov);
    if (bins != sb) driver_free(bins);
    return rc;
}

/* Dispatch: writes the queue, at most GS_IO_BUDGET bytes.  Returns 1 if
 * the kernel still took everything and data is left (next round). */
static int serve_output(gs_socket *s)
{
    ErlDrvTermData from = s->ps->port_term;
    struct iovec iov[GS_IOV_MAX];
    size_t i, written = 0;
    int left = 0;

    if (gs_sendfile_serve(s, from))
        return 0;   /* a file goes first; what is queued behind it waits
                     * (its write watcher stays armed) */
    while (s->sq.count > 0) {
        int cnt = 0;
        ssize_t n;
        if (written >= GS_IO_BUDGET) {
            left = 1;
            break;
        }
        for (i = 0; i < s->sq.count && cnt < GS_IOV_MAX; i++, cnt++) {
            gs_qent *e = &s->sq.ents[(s->sq.head + i) % s->sq.cap];
            iov[cnt].iov_base = e->ptr;
            iov[cnt].iov_len = e->len;
        }
        n = sock_writev(s->fd, iov, cnt);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            {
                int e = write_error(s, errno);
                sendq_clear(&s->sq);
                for (i = 0; i < s->sendq_waiters.n; i++)
                    reply_error(s, from, s->sendq_waiters.v[i].pid, e);
                s->sendq_waiters.n = 0;
            }
            break;
        }
        sendq_drop(&s->sq, (size_t)n);
        written += (size_t)n;
        s->ps->round_bytes += (size_t)n;
    }
    if (s->sq.bytes < s->low || s->sq.bytes == 0) {
        for (i = 0; i < s->sendq_waiters.n; i++)
            reply_ok(s, from, s->sendq_waiters.v[i].pid);
        s->sendq_waiters.n = 0;
    }
    if (s->sq.count == 0) {
        ev_io_stop(s->ps->loop, &s->wio);
        if (s->shut_pending) {
            shutdown(s->fd, s->shut_pending - 1);
            s->shut_pending = 0;
        }
        if (s->empty_q_pid) {
            ErlDrvTermData spec[] = {
                ERL_DRV_ATOM, am_empty_out_q, ERL_DRV_PORT, s->port_term,
                ERL_DRV_TUPLE, 2 };
            send_spec(from, s->empty_q_pid, spec, 6);
            s->empty_q_pid = 0;
        }
    }
    return left && s->sq.count > 0;
}

/* ---- for gs_sendfile.c ---------------------------------------------------- */

ssize_t gs_socket_write_queued(gs_socket *s, size_t max)
{
    struct iovec iov[GS_IOV_MAX];
    size_t i, total = 0;
    int cnt = 0;
    ssize_t n;

    for (i = 0; i < s->sq.count && cnt < GS_IOV_MAX && total < max; i++) {
        gs_qent *e = &s->sq.ents[(s->sq.head + i) % s->sq.cap];
        iov[cnt].iov_base = e->ptr;
        iov[cnt].iov_len = e->len < max - total ? e->len : max - total;
        total += iov[cnt].iov_len;
        cnt++;
    }
    if (cnt == 0) return 0;
    n = sock_writev(s->fd, iov, cnt);
    if (n > 0) sendq_drop(&s->sq, (size_t)n);
    return n;
}

void gs_socket_watch_write(gs_socket *s)
{
    start_write_watch(s);
}

void gs_socket_sendfile_down(gs_socket *s, ErlDrvTermData from)
{
    if (s->state != GS_ST_CONNECTED) return;
    if (s->active != GS_PASSIVE) {
        if (!s->closed_sent) notify_simple(s, from, am_tcp_closed);
        s->closed_sent = 1;
        sock_down(s, from, GS_ST_CLOSED_ACTIVE);
    } else {
        fail_waiters(s, from, GS_ECLOSED);
        s->sf_down = 1;
        sock_down(s, from, GS_ST_EOF);
    }
}

size_t gs_socket_subscribe_empty(gs_socket *s, ErlDrvTermData caller)
{
    if (s->sq.bytes > 0)
        s->empty_q_pid = caller;
    return s->sq.bytes;
}

/* ---- connect ------------------------------------------------------------- */

int gs_socket_connect(gs_socket *s, ErlDrvTermData caller,
                      const struct sockaddr *sa, socklen_t salen, int *err)
{
    int r;
    if (s->ps->dead) { *err = GS_ECLOSED; return GS_ERR; }
    if (s->state != GS_ST_OPEN) {
        *err = s->state == GS_ST_CONNECTED ? EISCONN :
               s->state == GS_ST_CONNECTING ? EALREADY : EINVAL;
        return GS_ERR;
    }
    do {
        r = connect(s->fd, sa, salen);
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
        s->state = GS_ST_CONNECTED;
        update_read_watch(s);
        return GS_OK;
    }
    if (errno != EINPROGRESS) {
        *err = errno;
        return GS_ERR;
    }
    s->state = GS_ST_CONNECTING;
    s->connect_pid = caller;
    start_write_watch(s);
    return GS_WAIT;
}

static void serve_connect(gs_socket *s)
{
    ErlDrvTermData from = s->ps->port_term;
    int soerr = 0;
    socklen_t l = sizeof soerr;

    ev_io_stop(s->ps->loop, &s->wio);
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0)
        soerr = errno;
    if (soerr == 0) {
        s->state = GS_ST_CONNECTED;
        if (s->connect_pid) reply_ok(s, from, s->connect_pid);
        update_read_watch(s);
    } else {
        s->state = GS_ST_OPEN;
        if (s->connect_pid) reply_error(s, from, s->connect_pid, soerr);
    }
    s->connect_pid = 0;
}

/* ---- accept -------------------------------------------------------------- */

/* Linux does not pass SO_PRIORITY on to an accepted socket (TOS it
 * does); gen_tcp's accepted sockets have their listener's priority. */
static void inherit_priority(int fd, int lfd)
{
    int prio;
    socklen_t l = sizeof prio;
    if (getsockopt(lfd, SOL_SOCKET, SO_PRIORITY, &prio, &l) == 0 && prio != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_PRIORITY, &prio, sizeof prio);
}

/* Accepts one connection for pid and hands it a new port.  creator is the
 * port whose callback runs (the listen port, or the poller port).
 * 1: done (message sent); 0: would block; -1: *err. */
static int accept_one(gs_socket *s, ErlDrvPort creator, ErlDrvTermData from,
                      ErlDrvTermData pid, int sched, int *err)
{
    gs_socket *ns;
    gs_pollset *ps;
    gs_port *gp;
    ErlDrvPort np;
    ErlDrvTermData pterm;
    int fd, index;

    for (;;) {
        fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            inherit_priority(fd, s->fd);
            break;
        }
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        *err = errno;
        return -1;
    }
    ps = gs_registry_pick(sched);
    ns = ps ? gs_socket_new(NULL) : NULL;
    gp = ns ? driver_alloc(sizeof *gp) : NULL;
    if (!gp) {
        gs_close_fd(fd);    /* may linger: the listener's SO_LINGER */
        if (ns) gs_socket_unref(ns);
        if (ps) {
            __sync_sub_and_fetch(&ps->nsockets, 1);
            gs_pollset_unref(ps);
        }
        *err = ps ? ENOMEM : GS_ECLOSED;
        return -1;
    }
    /* Everything the new port's callbacks read is filled in before
     * driver_create_port makes the port exist: from then on its owner may
     * die (the link stops the port) or, in principle, any process may
     * call it.  Only the port handle comes after; it is published last
     * (release) and the port's first callback takes it from the socket
     * (acquire, gs_drv.c); gp is never touched after the creation, since
     * a stop may have freed it.  Our own reference keeps ns alive until
     * the message is out. */
    gs_socket_inherit(ns, s);
    ns->fd = fd;
    ns->state = GS_ST_CONNECTED;
    ns->owner = pid;
    gs_socket_attach(ns, ps);
    gp->kind = GS_PORT_SOCKET;
    gp->s = ns;
    gp->ps = NULL;
    gp->port = NULL;
    gs_socket_ref(ns);
    /* Read before the port exists: once it does, its stop (the acceptor
     * killed) may drop the pollset reference ns holds, and with the
     * pollset destroyed meanwhile, that was the last one. */
    index = ps->index;
    np = driver_create_port(creator, pid, "gen_socket_drv", (ErlDrvData)gp);
    if (np == (ErlDrvPort)-1 || np == NULL) {
        driver_free(gp);
        gs_close_fd(fd);
        ns->fd = -1;
        __sync_sub_and_fetch(&ps->nsockets, 1);
        gs_pollset_unref(ps);
        ns->ps = NULL;
        gs_socket_unref(ns);    /* ours */
        gs_socket_unref(ns);    /* the pollset's */
        gs_socket_unref(ns);    /* the port's, never made */
        *err = ENFILE;
        return -1;
    }
    pterm = driver_mk_port(np);
    ns->port_term = pterm;
    __atomic_store_n(&ns->port, np, __ATOMIC_RELEASE);
    {
        ErlDrvTermData spec[] = {
            ERL_DRV_ATOM, am_gs, ERL_DRV_PORT, s->port_term,
            ERL_DRV_ATOM, am_ok, ERL_DRV_PORT, pterm,
            ERL_DRV_INT, (ErlDrvTermData)index,
            ERL_DRV_ATOM, gs_registry_policy() == 1 ? am_true : am_false,
            ERL_DRV_TUPLE, 4, ERL_DRV_TUPLE, 3 };
        send_spec(from, pid, spec, sizeof spec / sizeof spec[0]);
    }
    gs_socket_unref(ns);
    return 1;
}

int gs_socket_accept(gs_socket *s, ErlDrvTermData caller, int sched,
                     int *err)
{
    int r;
    if (s->ps->dead) { *err = GS_ECLOSED; return GS_ERR; }
    if (s->state != GS_ST_LISTEN) {
        *err = s->state == GS_ST_CLOSED ? GS_ECLOSED : EINVAL;
        return GS_ERR;
    }
    if (waitq_find(&s->acceptq, caller) >= 0) { *err = EALREADY; return GS_ERR; }
    if (s->acceptq.n == 0) {
        r = accept_one(s, s->port, s->port_term, caller, sched, err);
        if (r == 1) return GS_SENT;
        if (r < 0) return GS_ERR;
    }
    if (waitq_push(&s->acceptq, caller, sched) < 0) { *err = ENOMEM; return GS_ERR; }
    update_read_watch(s);
    return GS_WAIT;
}

/* Is pid alive?  erl_driver has no other test than a monitor, set and
 * taken off at once.  On an error, assume it lives. */
static int pid_alive(ErlDrvPort port, ErlDrvTermData pid)
{
    ErlDrvMonitor m;
    int r = driver_monitor_process(port, pid, &m);
    if (r == 0) driver_demonitor_process(port, &m);
    return r <= 0;
}

/* Dispatch: hands connections to waiting acceptors, at most
 * GS_ACCEPT_BUDGET.  Returns 1 if acceptors are left and the budget is
 * spent. */
static int serve_accept(gs_socket *s)
{
    int err = 0, budget = GS_ACCEPT_BUDGET, left = 0;
    while (s->acceptq.n > 0) {
        gs_waiter w = s->acceptq.v[0];
        int r;
        if (budget-- == 0) {
            left = 1;
            break;
        }
        if (!pid_alive(s->ps->port, w.pid)) {
            /* killed in accept: the connection goes to the next waiter,
             * as gen_tcp's (which monitors its acceptors) would */
            waitq_remove(&s->acceptq, 0);
            continue;
        }
        r = accept_one(s, s->ps->port, s->ps->port_term, w.pid, w.sched,
                           &err);
        if (r == 0) break;
        waitq_remove(&s->acceptq, 0);
        if (r < 0) reply_error(s, s->ps->port_term, w.pid, err);
    }
    if (s->notify_passive) {
        s->notify_passive = 0;
        notify_simple(s, s->ps->port_term, am_tcp_passive);
    }
    update_read_watch(s);
    return left;
}

/* ---- cancel, shutdown ---------------------------------------------------- */

int gs_socket_cancel(gs_socket *s, ErlDrvTermData caller)
{
    int i;
    if (s->recv_pid == caller) {
        s->recv_pid = 0;
        update_read_watch(s);
        return 1;
    }
    if (s->connect_pid == caller) {
        s->connect_pid = 0;
        if (ev_is_active(&s->wio)) ev_io_stop(s->ps->loop, &s->wio);
        return 1;
    }
    if ((i = waitq_find(&s->acceptq, caller)) >= 0) {
        waitq_remove(&s->acceptq, (size_t)i);
        update_read_watch(s);
        return 1;
    }
    if ((i = waitq_find(&s->sendq_waiters, caller)) >= 0) {
        waitq_remove(&s->sendq_waiters, (size_t)i);
        gs_socket_send_timed_out(s);
        return 1;
    }
    return 0;
}

int gs_socket_shutdown(gs_socket *s, int how, int *err)
{
    if (s->state != GS_ST_CONNECTED) {
        *err = s->state == GS_ST_CLOSED_ACTIVE ? GS_ECLOSED : ENOTCONN;
        return GS_ERR;
    }
    if (how != SHUT_RD) {
        s->wr_shut = 1;
        if (s->sq.bytes > 0) {
            /* Like inet_drv: the FIN goes after the queued data. */
            s->shut_pending = how + 1;
            if (how == SHUT_RDWR) shutdown(s->fd, SHUT_RD);
            return GS_OK;
        }
    }
    if (shutdown(s->fd, how) < 0) {
        *err = errno;
        return GS_ERR;
    }
    return GS_OK;
}

/* ---- dispatch entry points ----------------------------------------------- */

/* The read side of a socket, once per round: input, accept, or the
 * notices owed after the end.  Work left goes on the work list. */
static void serve_read_side(gs_socket *s)
{
    gs_pollset *ps = s->ps;
    int left = 0;
    s->rd_round = ps->rounds;
    ps->round_served++;
    if (s->state == GS_ST_LISTEN)
        left = serve_accept(s);
    else if (s->state == GS_ST_CONNECTED) {
        int idle = !s->recv_pid && s->active == GS_PASSIVE &&
                   !s->notify_passive;
        left = serve_input(s);
        update_read_watch(s);
        if (idle)
            disarm_idle_reader(s);
    } else {
        if (s->state == GS_ST_EOF && s->active != GS_PASSIVE &&
            !s->closed_sent) {
            /* Made active after its end was reported: as inet_drv. */
            notify_simple(s, ps->port_term, am_tcp_closed);
            s->closed_sent = 1;
            s->state = GS_ST_CLOSED_ACTIVE;
            ask_port_end(s);
        }
        if (s->notify_passive) {
            s->notify_passive = 0;
            notify_simple(s, ps->port_term, am_tcp_passive);
        }
    }
    if (left && !s->port_dead)
        gs_pollset_ready_add(ps, s, GS_READY_RD);
}

static void serve_write_side(gs_socket *s)
{
    gs_pollset *ps = s->ps;
    s->wr_round = ps->rounds;
    ps->round_served++;
    if (s->state == GS_ST_CONNECTING)
        serve_connect(s);
    else if (serve_output(s) && !s->port_dead)
        gs_pollset_ready_add(ps, s, GS_READY_WR);
}

/* A socket already served this round, or a round whose budget is spent:
 * the event waits on the work list (a libev event fed back would run
 * again in this same round: rule 11). */
static int defer(gs_socket *s, unsigned long served, int what)
{
    gs_pollset *ps = s->ps;
    if (served != ps->rounds && ps->round_served < GS_ROUND_BUDGET &&
        ps->round_bytes < GS_ROUND_BYTES) {
        /* Served now: a wait on the work list is over. */
        if (s->ready & what) {
            int rest = s->ready & ~what;
            gs_pollset_ready_remove(ps, s);
            if (rest) gs_pollset_ready_add(ps, s, rest);
        }
        return 0;
    }
    gs_pollset_ready_add(ps, s, what);
    return 1;
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    gs_socket *s = w->data;
    (void)loop; (void)revents;
    s->ps->round_events++;
    if (gs_pollset_on_watcher()) s->ps->watcher_events++;
    if (!defer(s, s->rd_round, GS_READY_RD))
        serve_read_side(s);
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
    gs_socket *s = w->data;
    (void)loop; (void)revents;
    s->ps->round_events++;
    if (gs_pollset_on_watcher()) s->ps->watcher_events++;
    if (!defer(s, s->wr_round, GS_READY_WR))
        serve_write_side(s);
}

void gs_socket_serve_ready(gs_socket *s, int what)
{
    s->ps->round_events++;
    if ((what & GS_READY_RD) && !s->port_dead)
        serve_read_side(s);
    /* The write side only while its watcher still wants it (a drained
     * queue or a dropped connection stopped it). */
    if ((what & GS_READY_WR) && !s->port_dead && ev_is_active(&s->wio))
        serve_write_side(s);
}

/* ---- teardown ------------------------------------------------------------ */

void gs_socket_stop(gs_socket *s)
{
    gs_pollset *ps = s->ps;
    int fd = s->fd;
    if (ps) {
        gs_pollset_lock_op(ps);
        s->port_dead = 1;
        fail_waiters(s, s->port_term, GS_ECLOSED);
        gs_sendfile_abort(s, 0);    /* as inet_drv: the owner gets the exit */
        if (ev_is_active(&s->rio) || ev_is_pending(&s->rio))
            ev_io_stop(ps->loop, &s->rio);
        if (ev_is_active(&s->wio) || ev_is_pending(&s->wio))
            ev_io_stop(ps->loop, &s->wio);
        gs_pollset_ready_remove(ps, s);
        if (s->attached) {
            gs_pollset_detach(ps, s);
            s->attached = 0;
        }
        /* The watchers are stopped and the socket is off every list of
         * the pollset: nothing there can see this fd any more.  It is
         * closed after the mutex is released (rule 12). */
        fd = s->fd;
        s->fd = -1;
        s->state = GS_ST_CLOSED;
        erl_drv_mutex_unlock(ps->mtx);
        __sync_sub_and_fetch(&ps->nsockets, 1);
        s->ps = NULL;
        gs_pollset_unref(ps);
        gs_socket_unref(s);     /* the pollset's reference */
    }
    s->fd = -1;
    gs_close_fd(fd);
    if (s->sf.fd >= 0) close(s->sf.fd);
    s->sf.fd = -1;
    s->port_dead = 1;
    gs_socket_unref(s);
}

/* Pollset teardown (ps->mtx held, poller port context): the socket ends
 * as a gen_tcp socket whose port dies.  Waiters get {error, closed}, an
 * active owner {tcp_closed, S}, a close waiting for the queue to drain
 * its empty_out_q; watchers stop, buffered input and queued output go.
 * The fd is taken from the socket and returned for the caller to close
 * after it released the mutex (rule 12); -1 if there is none. */
int gs_socket_pollset_died(gs_socket *s)
{
    ErlDrvTermData from = s->ps->port_term;
    int fd = s->fd;

    fail_waiters(s, from, GS_ECLOSED);
    gs_sendfile_abort(s, from);
    if (ev_is_active(&s->rio) || ev_is_pending(&s->rio))
        ev_io_stop(s->ps->loop, &s->rio);
    if (ev_is_active(&s->wio) || ev_is_pending(&s->wio))
        ev_io_stop(s->ps->loop, &s->wio);
    if (!s->port_dead && s->active != GS_PASSIVE && !s->closed_sent &&
        (s->state == GS_ST_CONNECTED || s->state == GS_ST_EOF)) {
        notify_simple(s, from, am_tcp_closed);
        s->closed_sent = 1;
    }
    if (s->empty_q_pid) {
        ErlDrvTermData spec[] = {
            ERL_DRV_ATOM, am_empty_out_q, ERL_DRV_PORT, s->port_term,
            ERL_DRV_TUPLE, 2 };
        send_spec(from, s->empty_q_pid, spec, 6);
        s->empty_q_pid = 0;
    }
    sendq_clear(&s->sq);
    in_unborrow(s);
    in_consume(s, in_len(s));
    s->notify_passive = 0;
    s->fd = -1;
    s->state = GS_ST_CLOSED;
    s->attached = 0;
    s->next = s->prev = NULL;
    return fd;
}

/* A status reply from the socket port's own callback (outputv). */
void gs_socket_reply_status(gs_socket *s, ErlDrvTermData to, int err)
{
    if (err) reply_error(s, s->port_term, to, err);
    else reply_ok(s, s->port_term, to);
}
