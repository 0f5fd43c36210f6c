/* echo_server.c -- the physical limit: a C epoll echo server.
 *
 *   echo_server PORT THREADS
 *
 * Each thread has its own SO_REUSEPORT listener and epoll set; reads are
 * echoed back at once (a partial write keeps the rest and waits for
 * EPOLLOUT).  Runs until killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int fd;
    char *pend;                 /* unsent echo */
    size_t plen;
} client_t;

static int port_;

static int make_listener(void)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    if (fd < 0) { perror("socket"); exit(2); }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); exit(2); }
    if (listen(fd, 4096) < 0) { perror("listen"); exit(2); }
    return fd;
}

static void drop(int ep, client_t *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pend);
    free(c);
}

/* Writes pending bytes; 0 all out, 1 wants EPOLLOUT, -1 error. */
static int flush_pending(client_t *c)
{
    while (c->plen > 0) {
        ssize_t w = send(c->fd, c->pend, c->plen, MSG_NOSIGNAL);
        if (w < 0) return errno == EAGAIN ? 1 : -1;
        memmove(c->pend, c->pend + w, c->plen - (size_t)w);
        c->plen -= (size_t)w;
    }
    return 0;
}

static void *serve(void *arg)
{
    int lfd = make_listener(), ep = epoll_create1(0);
    struct epoll_event ev, evs[256];
    static __thread char buf[65536];
    (void)arg;
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1), k;
        for (k = 0; k < n; k++) {
            client_t *c = evs[k].data.ptr;
            if (!c) {
                int fd, one = 1;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    client_t *nc = calloc(1, sizeof *nc);
                    nc->fd = fd;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    ev.events = EPOLLIN;
                    ev.data.ptr = nc;
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            if (c->plen > 0) {
                int r = flush_pending(c);
                if (r < 0) { drop(ep, c); continue; }
                if (r == 1) continue;
                ev.events = EPOLLIN;
                ev.data.ptr = c;
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
            for (;;) {
                ssize_t r = recv(c->fd, buf, sizeof buf, 0), w;
                if (r == 0 || (r < 0 && errno != EAGAIN)) { drop(ep, c); break; }
                if (r < 0) break;
                w = send(c->fd, buf, (size_t)r, MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN) { drop(ep, c); break; }
                if (w < 0) w = 0;
                if (w < r) {
                    c->pend = realloc(c->pend, c->plen + (size_t)(r - w));
                    memcpy(c->pend + c->plen, buf + w, (size_t)(r - w));
                    c->plen += (size_t)(r - w);
                    ev.events = EPOLLOUT;
                    ev.data.ptr = c;
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                    break;
                }
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int threads, i;
    pthread_t t;
    if (argc < 3) {   /* more arguments are ignored (a marker for pkill) */
        fprintf(stderr, "usage: %s PORT THREADS\n", argv[0]);
        return 2;
    }
    port_ = atoi(argv[1]);
    threads = atoi(argv[2]);
    if (threads < 1) threads = 1;
    for (i = 1; i < threads; i++) pthread_create(&t, NULL, serve, NULL);
    serve(NULL);
    return 0;
}
