/* gs_pollset.c -- a libev loop per scheduler, a watcher thread that blocks
 * in it while idle, and the hand-over to the scheduler side.
 *
 * The watcher thread never runs socket callbacks: when epoll reports events
 * it parks and writes one byte to a self-pipe that the poller port has
 * driver_select'ed.  The poller process then drives the loop with
 * non-blocking rounds (gs_pollset_poll) on its own scheduler and hands it
 * back (gs_pollset_handback) after a few empty rounds.
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>
#include <sys/eventfd.h>

#include "gs_pollset.h"
#include "gs_socket.h"
#include "gs_closer.h"

/* Set in the watcher thread only: the invoke callback must know which
 * thread it runs on, or the scheduler would signal itself and hang. */
static __thread int on_watcher_thread;

static ErlDrvMutex *reg_mtx;
static gs_pollset *reg[GS_MAX_POLLSETS + 1];
static int reg_max;             /* highest index ever registered */
static int reg_policy = 1;
static unsigned reg_rr;

int gs_pollset_on_watcher(void)
{
    return on_watcher_thread;
}

/* ---- registry ---------------------------------------------------------- */

int gs_registry_init(void)
{
    reg_mtx = erl_drv_mutex_create("gen_socket_registry");
    return reg_mtx ? 0 : -1;
}

void gs_registry_finish(void)
{
    if (reg_mtx) erl_drv_mutex_destroy(reg_mtx);
    reg_mtx = NULL;
}

void gs_registry_set_policy(int policy)
{
    erl_drv_mutex_lock(reg_mtx);
    reg_policy = policy;
    erl_drv_mutex_unlock(reg_mtx);
}

int gs_registry_policy(void)
{
    return reg_policy;
}

static int registry_add(gs_pollset *ps)
{
    int ok = 0;
    erl_drv_mutex_lock(reg_mtx);
    if (ps->index >= 1 && ps->index <= GS_MAX_POLLSETS && !reg[ps->index]) {
        reg[ps->index] = ps;
        if (ps->index > reg_max) reg_max = ps->index;
        ok = 1;
    }
    erl_drv_mutex_unlock(reg_mtx);
    return ok;
}

static void registry_remove(gs_pollset *ps)
{
    erl_drv_mutex_lock(reg_mtx);
    if (reg[ps->index] == ps) reg[ps->index] = NULL;
    erl_drv_mutex_unlock(reg_mtx);
}

/* Ports of sockets whose pollset went away, until a poller closes them.
 * Guarded by reg_mtx (taken under a pollset mutex: lock order). */
static ErlDrvTermData *orphans;
static size_t n_orphans, cap_orphans;

void gs_registry_orphan(ErlDrvTermData port_term)
{
    erl_drv_mutex_lock(reg_mtx);
    if (n_orphans == cap_orphans) {
        size_t ncap = cap_orphans ? cap_orphans * 2 : 64;
        ErlDrvTermData *v = driver_realloc(orphans, ncap * sizeof *v);
        if (v) {
            orphans = v;
            cap_orphans = ncap;
        }
    }
    /* Out of memory: the port is not closed for its owner, but it
     * answers as closed all the same (the pollset is dead). */
    if (n_orphans < cap_orphans)
        orphans[n_orphans++] = port_term;
    erl_drv_mutex_unlock(reg_mtx);
}

size_t gs_registry_take_orphans(ErlDrvTermData **v)
{
    size_t n;
    erl_drv_mutex_lock(reg_mtx);
    *v = orphans;
    n = n_orphans;
    orphans = NULL;
    n_orphans = cap_orphans = 0;
    erl_drv_mutex_unlock(reg_mtx);
    return n;
}

gs_pollset *gs_registry_pick(int cur_sched)
{
    gs_pollset *best = NULL;
    int i, n = 0;

    erl_drv_mutex_lock(reg_mtx);
    for (i = 1; i <= reg_max; i++)
        if (reg[i]) n++;
    if (n == 0) goto out;

    switch (reg_policy) {
    case 0:     /* the caller's scheduler's pollset */
        if (cur_sched >= 1 && cur_sched <= reg_max && reg[cur_sched])
            best = reg[cur_sched];
        break;
    case 2: {   /* round robin */
        unsigned k = reg_rr++ % (unsigned)n;
        for (i = 1; i <= reg_max; i++)
            if (reg[i] && k-- == 0) { best = reg[i]; break; }
        break;
    }
    default:    /* least loaded; ties go to the caller's own scheduler */
        for (i = 1; i <= reg_max; i++) {
            gs_pollset *p = reg[i];
            if (!p) continue;
            if (!best || p->nsockets < best->nsockets ||
                (p->nsockets == best->nsockets && i == cur_sched))
                best = p;
        }
        break;
    }
    if (!best)  /* policy 0 from a scheduler without a pollset */
        for (i = 1; i <= reg_max && !best; i++)
            best = reg[i];
    /* Counted now, so that a burst of opens spreads evenly. */
    __sync_add_and_fetch(&best->nsockets, 1);
    gs_pollset_ref(best);
out:
    erl_drv_mutex_unlock(reg_mtx);
    return best;
}

/* ---- libev hooks --------------------------------------------------------- */

/* The watcher releases the mutex only around epoll_wait, so that sockets
 * can arm watchers meanwhile.  Scheduler-side rounds keep it: they do not
 * block, and the socket ops would only contend. */
static void loop_release(struct ev_loop *loop)
{
    gs_pollset *ps = ev_userdata(loop);
    uint64_t one = 1;
    if (!on_watcher_thread) return;
    if (ps->state != PS_WATCHING) {
        /* Parked inside this ev_run (libev invokes pending events at its
         * start, before it polls): the scheduler may drive the loop as
         * soon as the mutex is free, so keep it, and make this last
         * epoll_wait return at once. */
        ps->watcher_kept_lock = 1;
        if (!ps->wake_pending) {
            ps->wake_pending = 1;
            while (write(ps->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
                ;
        }
        return;
    }
    ps->watcher_blocked = 1;
    /* An event fed while we were not blocked (ev_feed_event) is pending
     * but unknown to epoll: make epoll_wait return at once. */
    if (ev_pending_count(loop) > 0)
        gs_pollset_wake(ps);
    erl_drv_mutex_unlock(ps->mtx);
}

static void loop_acquire(struct ev_loop *loop)
{
    gs_pollset *ps = ev_userdata(loop);
    if (!on_watcher_thread) return;
    if (ps->watcher_kept_lock) {
        ps->watcher_kept_lock = 0;
        return;
    }
    erl_drv_mutex_lock(ps->mtx);
    ps->watcher_blocked = 0;
}

static void loop_invoke(struct ev_loop *loop)
{
    gs_pollset *ps = ev_userdata(loop);
    unsigned n;
    ssize_t w;

    if (!on_watcher_thread) {
        ev_invoke_pending(loop);
        return;
    }
    n = ev_pending_count(loop);
    if (n == 0)
        return;
    /* Our own wake-up alone is no reason to hand over: it only made the
     * watcher re-read its watcher set.  Its callback is safe here. */
    if (n == 1 && ev_is_pending(&ps->wake_io)) {
        ev_invoke_pending(loop);
        return;
    }
    if (ps->state != PS_WATCHING)
        return;                 /* already parked and signalled */
    ps->state = PS_PARKED;
    ps->wakeups++;
    do {
        w = write(ps->sig_wr, "!", 1);
    } while (w < 0 && errno == EINTR);
    /* EAGAIN: a byte is already waiting; one is enough. */
}

static void wake_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    gs_pollset *ps = w->data;
    uint64_t v;
    (void)loop; (void)revents;
    while (read(ps->wake_fd, &v, sizeof v) < 0 && errno == EINTR)
        ;
    ps->wake_pending = 0;
}

static void *watcher_main(void *arg)
{
    gs_pollset *ps = arg;
    on_watcher_thread = 1;
    erl_drv_mutex_lock(ps->mtx);
    while (!ps->stopping) {
        if (ps->state != PS_WATCHING)
            erl_drv_cond_wait(ps->cond, ps->mtx);
        else if (ev_pending_count(ps->loop) > 0)
            loop_invoke(ps->loop);      /* events fed meanwhile: park now */
        else
            ev_run(ps->loop, EVRUN_ONCE);
    }
    erl_drv_mutex_unlock(ps->mtx);
    return NULL;
}

/* ---- lifecycle ----------------------------------------------------------- */

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

gs_pollset *gs_pollset_create(int index, ErlDrvPort port)
{
    gs_pollset *ps = driver_alloc(sizeof *ps);
    int p[2];
    char name[32];

    if (!ps) return NULL;
    memset(ps, 0, sizeof *ps - sizeof ps->scratch);
    ps->index = index;
    ps->port = port;
    ps->port_term = driver_mk_port(port);
    ps->refc = 1;
    ps->sig_rd = ps->sig_wr = ps->wake_fd = -1;

    if (pipe(p) < 0) goto fail;
    ps->sig_rd = p[0];
    ps->sig_wr = p[1];
    if (set_nonblock(p[0]) < 0 || set_nonblock(p[1]) < 0) goto fail;
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
    ps->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ps->wake_fd < 0) goto fail;

    ps->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV | EVFLAG_NOSIGMASK);
    if (!ps->loop) goto fail;
    ev_set_userdata(ps->loop, ps);
    ev_set_loop_release_cb(ps->loop, loop_release, loop_acquire);
    ev_set_invoke_pending_cb(ps->loop, loop_invoke);
    ev_io_init(&ps->wake_io, wake_cb, ps->wake_fd, EV_READ);
    ps->wake_io.data = ps;
    ev_io_start(ps->loop, &ps->wake_io);
    /* The wake watcher must not keep a loop alive on its own account. */

    snprintf(name, sizeof name, "gs_pollset_%d", index);
    ps->mtx = erl_drv_mutex_create(name);
    ps->cond = erl_drv_cond_create(name);
    if (!ps->mtx || !ps->cond) goto fail;
    ps->state = PS_WATCHING;

    /* The thread first: once registered, gs_registry_pick may hand the
     * pollset out (and reference it) at any moment, so registration is
     * the last step that can fail. */
    if (erl_drv_thread_create(name, &ps->tid, watcher_main, ps, NULL) != 0)
        goto fail;
    if (!registry_add(ps)) {
        erl_drv_mutex_lock(ps->mtx);
        ps->stopping = 1;
        gs_pollset_wake(ps);
        erl_drv_cond_broadcast(ps->cond);
        erl_drv_mutex_unlock(ps->mtx);
        erl_drv_thread_join(ps->tid, NULL);
        goto fail;
    }
    return ps;

fail:
    if (ps->loop) ev_loop_destroy(ps->loop);
    if (ps->mtx) erl_drv_mutex_destroy(ps->mtx);
    if (ps->cond) erl_drv_cond_destroy(ps->cond);
    if (ps->sig_rd >= 0) close(ps->sig_rd);
    if (ps->sig_wr >= 0) close(ps->sig_wr);
    if (ps->wake_fd >= 0) close(ps->wake_fd);
    driver_free(ps);
    return NULL;
}

void gs_pollset_ref(gs_pollset *ps)
{
    __sync_add_and_fetch(&ps->refc, 1);
}

void gs_pollset_unref(gs_pollset *ps)
{
    if (__sync_sub_and_fetch(&ps->refc, 1) != 0)
        return;
    /* Last reference: the watcher is joined and no socket is attached. */
    ev_io_stop(ps->loop, &ps->wake_io);
    ev_loop_destroy(ps->loop);
    close(ps->wake_fd);
    close(ps->sig_wr);
    erl_drv_mutex_destroy(ps->mtx);
    erl_drv_cond_destroy(ps->cond);
    driver_free(ps);
}

void gs_pollset_wake(gs_pollset *ps)
{
    uint64_t one = 1;
    ssize_t w;
    if (ps->state != PS_WATCHING || !ps->watcher_blocked || ps->wake_pending)
        return;
    ps->wake_pending = 1;
    do {
        w = write(ps->wake_fd, &one, sizeof one);
    } while (w < 0 && errno == EINTR);
}

/* Poller port stop.  Every socket still attached ends as a gen_tcp socket
 * whose port dies (gs_socket_pollset_died: waiters, tcp_closed, watchers);
 * its port is put on the orphan list, for a poller process to close
 * (gen_socket_poller: the VM's own answers for a closed port then hold).
 * The sockets keep their references and release them when their ports
 * stop.  Their fds are closed once the mutex is released and the watcher
 * joined (rule 12: a close with linger must not hold the pollset).
 * sig_rd is closed by stop_select if it was selected, here otherwise. */
void gs_pollset_destroy(gs_pollset *ps)
{
    gs_socket *s, *next;
    int *fds = NULL;
    size_t nfds = 0, cap = 0, i;

    registry_remove(ps);
    erl_drv_mutex_lock(ps->mtx);
    ps->stopping = 1;
    ps->dead = 1;
    for (s = ps->sockets; s; s = s->next)
        cap++;
    if (cap) fds = driver_alloc(cap * sizeof *fds);
    for (s = ps->sockets; s; s = next) {
        int fd;
        next = s->next;
        if (!s->port_dead) gs_registry_orphan(s->port_term);
        fd = gs_socket_pollset_died(s);
        if (fd < 0) continue;
        if (fds) fds[nfds++] = fd;
        else gs_close_fd(fd);   /* out of memory: close it here, once */
    }
    ps->sockets = NULL;
    ps->state = PS_WATCHING;
    ps->wake_pending = 0;
    gs_pollset_wake(ps);
    erl_drv_cond_broadcast(ps->cond);
    erl_drv_mutex_unlock(ps->mtx);
    erl_drv_thread_join(ps->tid, NULL);
    for (i = 0; i < nfds; i++)
        gs_close_fd(fds[i]);    /* a lingering close goes to the closer */
    if (fds) driver_free(fds);
    if (ps->sig_selected)
        driver_select(ps->port, (ErlDrvEvent)(long)ps->sig_rd,
                      ERL_DRV_READ | ERL_DRV_USE, 0);
    else
        close(ps->sig_rd);      /* never selected: no stop_select will come */
    ps->sig_rd = -1;
    gs_pollset_unref(ps);
}

void gs_pollset_drain_signal(gs_pollset *ps)
{
    char buf[64];
    while (read(ps->sig_rd, buf, sizeof buf) > 0)
        ;
}

/* One round, bounded (rule 11): first the work the previous rounds left,
 * oldest first; then libev's new events (the callbacks put what is over
 * budget on the work list); each phase within GS_ROUND_BUDGET sockets and
 * GS_ROUND_BYTES bytes.  Nothing is fed back into libev, so ev_run ends
 * after one pass.  Returns the callbacks run, at least 1 while work is
 * left, so that the poller keeps driving (it yields between rounds). */
long gs_pollset_poll(gs_pollset *ps)
{
    long n, k;
    int spins;
    /* Socket ops waiting for the mutex go first.  A mutex is not fair:
     * the poller releases it at the end of a round and takes it again a
     * microsecond later (after a yield with nothing else to run), before
     * a blocked thread has even woken up, so a send on another socket of
     * this pollset could wait for as long as the peer kept sending (seen:
     * 0.5-2.4 s with +S 2).  Bounded: the op may also be slow to run. */
    for (spins = 0; spins < GS_OP_WAIT_SPINS &&
             __atomic_load_n(&ps->op_waiting, __ATOMIC_ACQUIRE) > 0; spins++)
        sched_yield();
    erl_drv_mutex_lock(ps->mtx);
    if (ps->state == PS_PARKED)
        ps->state = PS_DRIVEN;
    if (ps->state != PS_DRIVEN || ps->dead) {
        erl_drv_mutex_unlock(ps->mtx);
        return -1;
    }
    ps->rounds++;               /* the round's number, for the sockets */
    ps->round_events = 0;
    ps->round_served = 0;
    ps->round_bytes = 0;
    /* Only what was there when the round began: a socket served here
     * that still has work goes back to the tail, for the next round. */
    for (k = ps->nready; k > 0 && ps->ready_head &&
             ps->round_served < GS_ROUND_BUDGET &&
             ps->round_bytes < GS_ROUND_BYTES; k--) {
        gs_socket *s = ps->ready_head;
        int what = s->ready;
        gs_pollset_ready_remove(ps, s);
        gs_socket_serve_ready(s, what);
    }
    ps->round_served = 0;
    ps->round_bytes = 0;
    ev_run(ps->loop, EVRUN_NOWAIT);
    n = (long)ps->round_events;
    if (n == 0 && ps->ready_head)
        n = 1;
    ps->events += ps->round_events;
    erl_drv_mutex_unlock(ps->mtx);
    return n;
}

/* Returns 1 if the loop went back to the watcher, 0 if events arrived
 * meanwhile (fed by a socket op) or work is left on the work list (the
 * watcher never serves it) and the caller must keep driving. */
int gs_pollset_handback(gs_pollset *ps)
{
    int done = 0;
    erl_drv_mutex_lock(ps->mtx);
    if (ps->state == PS_DRIVEN && ev_pending_count(ps->loop) == 0 &&
        !ps->ready_head) {
        ps->state = PS_WATCHING;
        erl_drv_cond_signal(ps->cond);
        done = 1;
    } else if (ps->state != PS_DRIVEN) {
        done = 1;
    }
    erl_drv_mutex_unlock(ps->mtx);
    return done;
}

void gs_pollset_attach(gs_pollset *ps, gs_socket *s)
{
    s->prev = NULL;
    s->next = ps->sockets;
    if (ps->sockets) ps->sockets->prev = s;
    ps->sockets = s;
}

void gs_pollset_detach(gs_pollset *ps, gs_socket *s)
{
    if (s->prev) s->prev->next = s->next;
    else if (ps->sockets == s) ps->sockets = s->next;
    if (s->next) s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

void gs_pollset_ready_add(gs_pollset *ps, gs_socket *s, int what)
{
    if (s->ready) {
        s->ready |= what;
        return;
    }
    s->ready = what;
    s->rnext = NULL;
    s->rprev = ps->ready_tail;
    if (ps->ready_tail) ps->ready_tail->rnext = s;
    else ps->ready_head = s;
    ps->ready_tail = s;
    ps->nready++;
}

void gs_pollset_ready_remove(gs_pollset *ps, gs_socket *s)
{
    if (!s->ready) return;
    if (s->rprev) s->rprev->rnext = s->rnext;
    else ps->ready_head = s->rnext;
    if (s->rnext) s->rnext->rprev = s->rprev;
    else ps->ready_tail = s->rprev;
    s->rnext = s->rprev = NULL;
    s->ready = 0;
    ps->nready--;
}

void gs_pollset_lock_op(gs_pollset *ps)
{
    if (erl_drv_mutex_trylock(ps->mtx) == 0)
        return;
    __atomic_add_fetch(&ps->op_waiting, 1, __ATOMIC_RELEASE);
    erl_drv_mutex_lock(ps->mtx);
    __atomic_sub_fetch(&ps->op_waiting, 1, __ATOMIC_RELEASE);
}
