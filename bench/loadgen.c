/* loadgen.c -- echo load generator: one process, epoll, no threads.
 *
 *   loadgen HOST PORT CONNS SIZE DEPTH SECONDS
 *
 * Opens CONNS connections, keeps DEPTH messages of SIZE bytes in flight on
 * each (DEPTH 1 = ping-pong), for SECONDS, and checks that every echoed
 * byte is the byte that was sent (each connection sends a deterministic
 * byte stream).  Prints one line of key=value pairs:
 *   conns size depth secs msgs msgs_per_s mb_per_s p50_us p99_us errors
 * errors counts wrong bytes and connections lost before the end.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#define MAX_DEPTH 1024
#define HIST_US 5000000         /* latency histogram: 1 us buckets to 5 s */

typedef struct {
    int fd, id, dead;
    uint64_t sent_msgs, done_msgs;      /* messages issued / echoed back */
    uint64_t out_bytes, out_target;     /* bytes written / to write */
    uint64_t in_bytes;
    double ts[MAX_DEPTH];               /* issue time, by message % depth */
} conn_t;

static size_t size_;
static int depth_;
static uint32_t hist[HIST_US + 1];
static uint64_t errors, window_msgs, window_bytes;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The byte at stream offset o of connection id. */
static inline unsigned char pattern(int id, uint64_t o)
{
    return (unsigned char)((o * 131u) ^ (o >> 9) ^ (uint64_t)id * 7u);
}

static void fail(const char *what)
{
    perror(what);
    exit(2);
}

static void issue(conn_t *c, double t)
{
    c->ts[c->sent_msgs % (uint64_t)depth_] = t;
    c->sent_msgs++;
    c->out_target += size_;
}

static int pump_out(conn_t *c)
{
    static unsigned char buf[65536];
    while (c->out_bytes < c->out_target) {
        uint64_t n = c->out_target - c->out_bytes, i;
        ssize_t w;
        if (n > sizeof buf) n = sizeof buf;
        for (i = 0; i < n; i++) buf[i] = pattern(c->id, c->out_bytes + i);
        w = send(c->fd, buf, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;  /* want out */
            if (errno == EINTR) continue;
            return -1;
        }
        c->out_bytes += (uint64_t)w;
    }
    return 0;
}

static int pump_in(conn_t *c, int running, double t_end, double *lat_base)
{
    static unsigned char buf[65536];
    (void)lat_base;
    for (;;) {
        ssize_t r = recv(c->fd, buf, sizeof buf, 0), i;
        double t;
        if (r == 0) return -1;
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            if (errno == EINTR) continue;
            return -1;
        }
        for (i = 0; i < r; i++)
            if (buf[i] != pattern(c->id, c->in_bytes + (uint64_t)i)) {
                errors++;
                break;
            }
        c->in_bytes += (uint64_t)r;
        t = now();
        while (c->done_msgs < c->sent_msgs &&
               c->in_bytes >= (c->done_msgs + 1) * size_) {
            double us = (t - c->ts[c->done_msgs % (uint64_t)depth_]) * 1e6;
            c->done_msgs++;
            if (t <= t_end) {
                hist[us < HIST_US ? (int)us : HIST_US]++;
                window_msgs++;
                window_bytes += size_;
            }
            if (running) issue(c, t);
        }
    }
}

static double percentile(double p)
{
    uint64_t total = 0, acc = 0, want;
    int i;
    for (i = 0; i <= HIST_US; i++) total += hist[i];
    if (total == 0) return 0;
    want = (uint64_t)(p * (double)total);
    if (want == 0) want = 1;
    for (i = 0; i <= HIST_US; i++) {
        acc += hist[i];
        if (acc >= want) return (double)i;
    }
    return HIST_US;
}

int main(int argc, char **argv)
{
    struct addrinfo hints, *ai;
    conn_t *conns;
    int nconns, secs, ep, i, one = 1;
    double t0, t_end;

    if (argc != 7) {
        fprintf(stderr, "usage: %s HOST PORT CONNS SIZE DEPTH SECONDS\n", argv[0]);
        return 2;
    }
    nconns = atoi(argv[3]);
    size_ = (size_t)atol(argv[4]);
    depth_ = atoi(argv[5]);
    secs = atoi(argv[6]);
    if (nconns < 1 || size_ < 1 || depth_ < 1 || depth_ > MAX_DEPTH || secs < 1) {
        fprintf(stderr, "loadgen: bad arguments\n");
        return 2;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0) fail("getaddrinfo");

    conns = calloc((size_t)nconns, sizeof *conns);
    ep = epoll_create1(0);
    if (!conns || ep < 0) fail("setup");
    for (i = 0; i < nconns; i++) {
        struct epoll_event ev;
        conn_t *c = &conns[i];
        c->id = i;
        c->fd = socket(ai->ai_family, SOCK_STREAM, 0);
        if (c->fd < 0) fail("socket");
        if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0) fail("connect");
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) fail("epoll_ctl");
    }
    freeaddrinfo(ai);

    t0 = now();
    t_end = t0 + secs;
    for (i = 0; i < nconns; i++) {
        int d;
        for (d = 0; d < depth_; d++) issue(&conns[i], t0);
        if (pump_out(&conns[i]) < 0) { conns[i].dead = 1; errors++; }
    }
    for (;;) {
        struct epoll_event evs[256];
        double t = now();
        int n, k, running = t < t_end;
        if (!running) break;
        n = epoll_wait(ep, evs, 256, 10);
        for (k = 0; k < n; k++) {
            conn_t *c = evs[k].data.ptr;
            int r;
            if (c->dead) continue;
            if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                if (pump_in(c, running, t_end, NULL) < 0) {
                    c->dead = 1;
                    errors++;
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    continue;
                }
            }
            r = pump_out(c);
            if (r < 0) {
                c->dead = 1;
                errors++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            } else {
                struct epoll_event ev;
                ev.events = EPOLLIN | (r == 1 ? EPOLLOUT : 0);
                ev.data.ptr = c;
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
        }
    }
    {
        double el = now() - t0;
        if (el > secs) el = secs;
        printf("conns=%d size=%zu depth=%d secs=%.2f msgs=%llu msgs_per_s=%.0f "
               "mb_per_s=%.2f p50_us=%.0f p99_us=%.0f errors=%llu\n",
               nconns, size_, depth_, el, (unsigned long long)window_msgs,
               (double)window_msgs / el,
               (double)window_bytes * 2 / el / 1e6,   /* both directions */
               percentile(0.50), percentile(0.99),
               (unsigned long long)errors);
    }
    for (i = 0; i < nconns; i++) close(conns[i].fd);
    return 0;
}
