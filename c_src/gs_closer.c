/* gs_closer.c -- a thread that runs the close() calls that can block
 * (sockets with SO_LINGER on and a timeout), started with the driver. */
#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>

#include "gs_compat.h"
#include "gs_closer.h"

static ErlDrvMutex *cl_mtx;
static ErlDrvCond *cl_cond;
static ErlDrvTid cl_tid;
static int cl_started, cl_stopping;
static int *cl_fds;             /* fds waiting for the thread */
static size_t cl_n, cl_cap;

static void *closer_main(void *arg);

/* The thread starts with the driver: started on first need, it appeared
 * in the middle of a VM's life (a thread more after the first socket with
 * a linger timeout closed), which the leak checks of the suites saw as a
 * leaked thread.  If it cannot be made now, enqueue tries again. */
int gs_closer_init(void)
{
    cl_mtx = erl_drv_mutex_create("gen_socket_closer");
    cl_cond = erl_drv_cond_create("gen_socket_closer");
    if (!cl_mtx || !cl_cond) return -1;
    if (erl_drv_thread_create("gen_socket_closer", &cl_tid, closer_main,
                              NULL, NULL) == 0)
        cl_started = 1;
    return 0;
}

static void *closer_main(void *arg)
{
    (void)arg;
    erl_drv_mutex_lock(cl_mtx);
    for (;;) {
        int fd;
        while (cl_n == 0 && !cl_stopping)
            erl_drv_cond_wait(cl_cond, cl_mtx);
        if (cl_n == 0)
            break;
        fd = cl_fds[--cl_n];
        erl_drv_mutex_unlock(cl_mtx);
        close(fd);
        erl_drv_mutex_lock(cl_mtx);
    }
    erl_drv_mutex_unlock(cl_mtx);
    return NULL;
}

void gs_closer_finish(void)
{
    if (cl_mtx) {
        erl_drv_mutex_lock(cl_mtx);
        cl_stopping = 1;
        erl_drv_cond_broadcast(cl_cond);
        erl_drv_mutex_unlock(cl_mtx);
        if (cl_started)
            erl_drv_thread_join(cl_tid, NULL);  /* closes what is left */
        erl_drv_mutex_destroy(cl_mtx);
    }
    if (cl_cond) erl_drv_cond_destroy(cl_cond);
    if (cl_fds) driver_free(cl_fds);
    cl_mtx = NULL;
    cl_cond = NULL;
    cl_fds = NULL;
    cl_n = cl_cap = 0;
    cl_started = cl_stopping = 0;
}

/* Could close(fd) wait for the peer?  Only with a linger timeout. */
static int lingers(int fd)
{
    struct linger li;
    socklen_t l = sizeof li;
    if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &li, &l) < 0)
        return 0;               /* not a socket, or gone: close is quick */
    return li.l_onoff && li.l_linger > 0;
}

static int enqueue(int fd)
{
    if (cl_n == cl_cap) {
        size_t ncap = cl_cap ? cl_cap * 2 : 16;
        int *v = driver_realloc(cl_fds, ncap * sizeof *v);
        if (!v) return -1;
        cl_fds = v;
        cl_cap = ncap;
    }
    if (!cl_started) {
        if (erl_drv_thread_create("gen_socket_closer", &cl_tid, closer_main,
                                  NULL, NULL) != 0)
            return -1;
        cl_started = 1;
    }
    cl_fds[cl_n++] = fd;
    erl_drv_cond_signal(cl_cond);
    return 0;
}

void gs_close_fd(int fd)
{
    int queued = 0;
    if (fd < 0) return;
    if (lingers(fd) && cl_mtx) {
        erl_drv_mutex_lock(cl_mtx);
        queued = !cl_stopping && enqueue(fd) == 0;
        erl_drv_mutex_unlock(cl_mtx);
    }
    if (!queued)
        close(fd);  /* the usual case; or no thread to be had: block here */
}
