/* gs_pollset.h -- one libev loop per scheduler, with its watcher thread.
 *
 * A pollset is always in exactly one state, changed only under ps->mtx:
 *
 *   WATCHING  the watcher thread owns the loop and blocks in epoll_wait;
 *   PARKED    events are pending; the watcher wrote a byte to the self-pipe
 *             and waits on ps->cond; nobody runs the loop;
 *   DRIVEN    the poller port (on its scheduler) runs non-blocking ev_run
 *             rounds; the callbacks (recv/send/accept/connect) run there.
 *
 * Only the owner of the current state calls ev_run; two threads in one
 * libev loop abort the VM.  See doc/design-notes.md.
 */
#ifndef GS_POLLSET_H
#define GS_POLLSET_H

#include <ev.h>
#include "gs_compat.h"

#define GS_MAX_POLLSETS 1024
#define GS_SCRATCH_SIZE (64 * 1024)

/* Dispatch budgets (ARCHITECTURE rule 11; doc/design-notes.md, "Fair
 * dispatch").  A round has two phases: the work list the previous round
 * left, then libev's new events.  Each phase serves at most
 * GS_ROUND_BUDGET sockets and moves at most GS_ROUND_BYTES bytes (reads
 * and writes); a socket is served at most once per round and direction,
 * and one service reads or writes at most GS_IO_BUDGET bytes, delivers at
 * most GS_PACKET_BUDGET active messages, accepts at most GS_ACCEPT_BUDGET
 * connections.  What is left goes on the work list. */
#define GS_ROUND_BUDGET  256
#define GS_ROUND_BYTES   (4 * 1024 * 1024)
#define GS_IO_BUDGET     (256 * 1024)
#define GS_PACKET_BUDGET 16
#define GS_ACCEPT_BUDGET 16
/* A send made by the caller itself writes at most this much at once and
 * queues the rest for dispatch: the pollset mutex is held meanwhile. */
#define GS_SEND_BUDGET   (1024 * 1024)

/* How many times (sched_yield) a round waits at most for socket ops
 * queued on the pollset mutex to get it first. */
#define GS_OP_WAIT_SPINS 200

/* What a socket on the work list still has to do */
#define GS_READY_RD 1
#define GS_READY_WR 2

typedef enum { PS_WATCHING, PS_PARKED, PS_DRIVEN } gs_ps_state;

struct gs_socket;

typedef struct gs_pollset {
    int index;                  /* 1..N; the scheduler it serves */
    struct ev_loop *loop;
    ErlDrvMutex *mtx;           /* guards the loop and all attached sockets */
    ErlDrvCond *cond;           /* watcher parks here */
    ErlDrvTid tid;
    gs_ps_state state;
    int stopping;               /* watcher thread must exit */
    int dead;                   /* poller port gone: no more dispatch */
    int watcher_blocked;        /* watcher is inside epoll_wait */
    int wake_pending;           /* a wake-up byte is in wake_fd */
    int watcher_kept_lock;      /* release callback kept the mutex */
    int sig_rd, sig_wr;         /* self-pipe, watcher -> poller port */
    int sig_selected;           /* sig_rd is in driver_select: stop_select closes it */
    int wake_fd;                /* eventfd, anyone -> watcher */
    ev_io wake_io;
    ErlDrvPort port;            /* the poller port */
    ErlDrvTermData port_term;
    ErlDrvTermData poller_pid;  /* its owner, asked to end dead sockets */
    long refc;                  /* registry + attached sockets */
    long nsockets;              /* attached sockets (read unlocked by policy) */
    struct gs_socket *sockets;  /* attached sockets, for teardown */
    /* counters, for gen_socket:info() */
    unsigned long rounds;       /* POLL rounds run on the scheduler side */
    unsigned long wakeups;      /* times the watcher signalled the poller */
    unsigned long events;       /* socket callbacks run */
    unsigned long round_events; /* callbacks in the current round */
    unsigned long round_served; /* sockets served in this phase of it */
    unsigned long round_bytes;  /* bytes read and written in this phase */
    struct gs_socket *ready_head, *ready_tail; /* work left for the next
                                 * round, oldest first (never fed back
                                 * into libev: rule 11) */
    long nready;
    int op_waiting;             /* socket ops blocked on mtx (atomic) */
    unsigned long watcher_events; /* socket callbacks run by the watcher
                                   * thread: must stay 0 (the design) */
    char scratch[GS_SCRATCH_SIZE]; /* read buffer, used under mtx only */
} gs_pollset;

/* Registry of live pollsets and the binding policy (driver-global). */
int  gs_registry_init(void);
void gs_registry_finish(void);
void gs_registry_set_policy(int policy);
int  gs_registry_policy(void);
/* Picks a pollset for a new socket by the policy; cur_sched is the
 * caller's scheduler.  Returns it referenced, or NULL if none runs. */
gs_pollset *gs_registry_pick(int cur_sched);
/* Socket ports of dead pollsets, to be closed by a poller process:
 * orphan records one (under a pollset mutex is fine), take hands the
 * whole list over (the caller driver_free's it). */
void gs_registry_orphan(ErlDrvTermData port_term);
size_t gs_registry_take_orphans(ErlDrvTermData **v);

/* Lifecycle, called by the poller port. */
gs_pollset *gs_pollset_create(int index, ErlDrvPort port);
void gs_pollset_destroy(gs_pollset *ps);  /* poller port stop */
void gs_pollset_ref(gs_pollset *ps);
void gs_pollset_unref(gs_pollset *ps);

/* Scheduler side: one non-blocking round.  Returns the number of socket
 * callbacks run, or -1 if this pollset is not in a state we may drive. */
long gs_pollset_poll(gs_pollset *ps);
int  gs_pollset_handback(gs_pollset *ps);
void gs_pollset_drain_signal(gs_pollset *ps);

/* Takes ps->mtx for a socket op (a port callback): counted while it
 * waits, so that the poller lets it in between rounds (a mutex is not
 * fair; see gs_pollset_poll). */
void gs_pollset_lock_op(gs_pollset *ps);

/* Is the calling thread a pollset's watcher thread? */
int  gs_pollset_on_watcher(void);

/* With ps->mtx held: make a watcher change take effect now. */
void gs_pollset_wake(gs_pollset *ps);

/* The work list (ps->mtx held): add is a no-op for a socket already on
 * it except for the new direction bits; remove takes it off. */
void gs_pollset_ready_add(gs_pollset *ps, struct gs_socket *s, int what);
void gs_pollset_ready_remove(gs_pollset *ps, struct gs_socket *s);

/* Attach/detach a socket to the teardown list (ps->mtx held). */
void gs_pollset_attach(gs_pollset *ps, struct gs_socket *s);
void gs_pollset_detach(gs_pollset *ps, struct gs_socket *s);

#endif
