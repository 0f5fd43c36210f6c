/* gs_socket.h -- per-socket state: fd, options, buffers, waiters, queue.
 *
 * Every field that pollset dispatch reads or writes is guarded by the
 * socket's pollset mutex (s->ps->mtx); the socket port's callbacks take
 * that mutex after their own port lock (lock order: port, then pollset).
 */
#ifndef GS_SOCKET_H
#define GS_SOCKET_H

#include <sys/types.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <stdint.h>
#include "gs_pollset.h"

/* inet_drv's option values, as prim_inet encodes them */
#define GS_PASSIVE 0
#define GS_ACTIVE  1
#define GS_ONCE    2
#define GS_MULTI   3

#define GS_DELIVER_PORT 0       /* {deliver, port}: {S, {data, Bytes}} */
#define GS_DELIVER_TERM 1

#define GS_MODE_LIST   0
#define GS_MODE_BINARY 1

typedef enum {
    GS_ST_CLOSED = 0,   /* no fd yet */
    GS_ST_OPEN,         /* fd, not connected */
    GS_ST_LISTEN,
    GS_ST_CONNECTING,
    GS_ST_CONNECTED,
    GS_ST_EOF,          /* end seen and reported in passive mode: the fd is
                         * gone (inet_drv's desc_close), recv says enotconn */
    GS_ST_CLOSED_ACTIVE,/* tcp_closed delivered with exit_on_close: where
                         * inet_drv would exit the port, we drop the fd */
    GS_ST_TIMED_OUT     /* a send timed out with send_timeout_close */
} gs_sock_state;

/* A growable byte buffer: data lives in [start, end) of base. */
typedef struct {
    char *base;
    size_t cap, start, end;
    int borrowed;               /* base is the pollset's scratch buffer */
} gs_buf;

/* One queued piece of output: a reference into a driver binary. */
typedef struct {
    ErlDrvBinary *bin;
    char *ptr;
    size_t len;
} gs_qent;

typedef struct {
    gs_qent *ents;
    size_t head, count, cap;    /* ring of entries */
    size_t bytes;               /* total queued */
} gs_sendq;

typedef struct {
    ErlDrvTermData pid;
    int sched;                  /* caller's scheduler, for accept's policy */
} gs_waiter;

/* A file being sent with sendfile(2) (inet_drv's TCP_REQ_SENDFILE). */
typedef struct {
    int fd;                     /* our dup of the file's fd; -1: none */
    uint64_t offset, left, sent;
    size_t skip;                /* queued bytes that go out before it */
    ErlDrvTermData pid;         /* gets {sendfile, S, Result} */
    int err;                    /* failed in a socket port's callback */
} gs_sendfile;

typedef struct {
    gs_waiter *v;
    size_t n, cap;
} gs_waitq;

typedef struct gs_socket {
    long refc;
    int fd;
    int family;                 /* AF_INET / AF_INET6 */
    gs_sock_state state;
    gs_pollset *ps;
    struct gs_socket *next, *prev;  /* in ps->sockets */
    ErlDrvPort port;
    ErlDrvTermData port_term;
    ErlDrvTermData owner;       /* copy of driver_connected(port) */
    int port_dead;
    int attached;               /* in ps->sockets (lazily, on first use) */
    int ready;                  /* GS_READY_* bits: on ps's work list */
    struct gs_socket *rnext, *rprev;    /* in ps's work list */
    unsigned long rd_round, wr_round;   /* last round that served it */

    /* inet_drv-level options */
    int active, active_count;
    int mode, htype, hsz, exitf, delimiter, show_econnreset;
    int http_state;             /* 0: request/status line next; 1: headers */
    int debug;                  /* {debug, Bool}: kept and reported only */
    unsigned psize;
    int bufsz, bufsz_set;       /* the 'buffer' option; set explicitly? */
    int deliver, delay_send, send_timeout, send_timeout_close;
    size_t high, low;           /* send queue watermarks */
    int msgq_high, msgq_low;    /* reported only */
    int read_size;              /* adaptive read size */

    /* read side */
    gs_buf in;
    int rd_closed;              /* EOF or error seen */
    int rd_err;                 /* errno of the read error, 0 for EOF */
    int closed_sent;            /* tcp_closed already delivered */
    int notify_passive;         /* owe the owner {tcp_passive, S} */
    int wr_shut;                /* shutdown(write) done */
    int wr_err;                 /* errno of a failed write */
    int shut_pending;           /* shutdown(how + 1) after the queue drains */
    int end_asked;              /* the poller was asked to end the port */
    int sf_down;                /* a failed sendfile took the connection:
                                 * 1, next recv says closed; 2, said */
    ev_io rio, wio;

    /* waiters, at most one each except accept and send */
    ErlDrvTermData recv_pid;
    size_t recv_len;
    ErlDrvTermData connect_pid;
    gs_waitq acceptq;
    gs_waitq sendq_waiters;
    ErlDrvTermData empty_q_pid; /* subs_empty_out_q subscriber */

    gs_sendq sq;
    gs_sendfile sf;

    /* statistics, as inet:getstat/1 reports them */
    uint64_t recv_cnt, recv_max, recv_oct, send_cnt, send_max, send_oct;
    double recv_avg, recv_dvi, send_avg;
} gs_socket;

/* Driver data of every port of this driver. */
typedef enum { GS_PORT_NEW = 0, GS_PORT_SOCKET, GS_PORT_POLLER } gs_port_kind;
typedef struct gs_port {
    gs_port_kind kind;
    ErlDrvPort port;
    gs_socket *s;
    gs_pollset *ps;
} gs_port;

gs_socket *gs_socket_new(ErlDrvPort port);
void gs_socket_ref(gs_socket *s);
void gs_socket_unref(gs_socket *s);

/* Attach to a pollset (referenced) and take its mutex for ops. */
void gs_socket_attach(gs_socket *s, gs_pollset *ps);
void gs_socket_lock(gs_socket *s);
void gs_socket_unlock(gs_socket *s);

/* Copy inet-level options from a listen socket to an accepted one. */
void gs_socket_inherit(gs_socket *s, const gs_socket *from);

/* Pollset round (ps->mtx held): serve what the work list says. */
void gs_socket_serve_ready(gs_socket *s, int what);

/* Port stop: fail waiters, stop watchers, close the fd. */
void gs_socket_stop(gs_socket *s);
/* Pollset teardown (ps->mtx held, poller port ctx): end the socket as a
 * dying port would; returns the fd to close once the mutex is released. */
int gs_socket_pollset_died(gs_socket *s);

/* Operation results */
#define GS_OK      0
#define GS_WAIT    1            /* registered, a message will come */
#define GS_SENT    2            /* result already sent as a message */
#define GS_ERR    -1            /* *err holds an errno or GS_E* */

#define GS_ECLOSED  (-1000)     /* reported as the atom 'closed' */
#define GS_EALREADY EALREADY
#define GS_ETIMEOUT (-1001)

/* Reply buffer for a synchronous recv: caller frees. */
typedef struct {
    ErlDrvBinary *bin;          /* [0] status byte, then the data */
    size_t len;
} gs_reply;

/* All of these run with the pollset mutex held, in the socket port's
 * control callback (caller = driver_caller). */
int gs_socket_recv(gs_socket *s, ErlDrvTermData caller, size_t len,
                   gs_reply *r, int *err);
int gs_socket_send(gs_socket *s, ErlDrvTermData caller, const char *buf,
                   size_t len, int *err);
int gs_socket_sendv(gs_socket *s, ErlDrvTermData caller, ErlIOVec *ev,
                    int *err);
int gs_socket_connect(gs_socket *s, ErlDrvTermData caller,
                      const struct sockaddr *sa, socklen_t salen, int *err);
int gs_socket_accept(gs_socket *s, ErlDrvTermData caller, int sched,
                     int *err);
int gs_socket_cancel(gs_socket *s, ErlDrvTermData caller);
void gs_socket_send_timed_out(gs_socket *s);
int gs_socket_shutdown(gs_socket *s, int how, int *err);
int gs_socket_unrecv(gs_socket *s, const char *p, size_t len, int *err);
/* After an option change that may need dispatch (active, packet) */
void gs_socket_options_changed(gs_socket *s);
size_t gs_socket_subscribe_empty(gs_socket *s, ErlDrvTermData caller);
/* Its end was reported with exit_on_close ({tcp_closed, S}): the port
 * must end, as inet_drv's does (driver_exit in the port's own callback). */
int gs_socket_ended(gs_socket *s);
/* After setopts/unrecv: active delivery now, from the poller port. */
void gs_socket_deliver_now(gs_socket *s);

void gs_socket_reply_status(gs_socket *s, ErlDrvTermData to, int err);

/* For gs_sendfile.c (pollset mutex held): one writev of at most max
 * queued bytes (>= 0 written, -1 and errno); arm the writer. */
ssize_t gs_socket_write_queued(gs_socket *s, size_t max);
void gs_socket_watch_write(gs_socket *s);
/* A failed sendfile takes the connection down, as inet_drv's
 * tcp_send_error: active, {tcp_closed, S} and the port's end; passive,
 * the fd goes, later sends say enotconn, the next recv closed. */
void gs_socket_sendfile_down(gs_socket *s, ErlDrvTermData from);

/* Atom name of an error code (errno or GS_E*) */
const char *gs_errstr(int err);

#endif
