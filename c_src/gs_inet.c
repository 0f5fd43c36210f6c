/* gs_inet.c -- inet_drv's control requests for a TCP socket. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <net/if.h>
#include <sys/un.h>
#include <stddef.h>

#include "gs_inet.h"
#include "gs_packet.h"
#include "gs_sendfile.h"

/* prim_inet's option numbers (inet_int.hrl) */
#define INET_OPT_REUSEADDR   0
#define INET_OPT_KEEPALIVE   1
#define INET_OPT_DONTROUTE   2
#define INET_OPT_LINGER      3
#define INET_OPT_BROADCAST   4
#define INET_OPT_OOBINLINE   5
#define INET_OPT_SNDBUF      6
#define INET_OPT_RCVBUF      7
#define INET_OPT_PRIORITY    8
#define INET_OPT_TOS         9
#define TCP_OPT_NODELAY      10
#define INET_OPT_IPV6_V6ONLY 16
#define INET_OPT_REUSEPORT   17     /* OTP 26+ */
#define INET_OPT_REUSEPORT_LB 18    /* OTP 26+ */
#define INET_OPT_EXCLUSIVEADDRUSE 19 /* OTP 26+, Windows only */
#define INET_LOPT_BUFFER     20
#define INET_LOPT_HEADER     21
#define INET_LOPT_ACTIVE     22
#define INET_LOPT_PACKET     23
#define INET_LOPT_MODE       24
#define INET_LOPT_DELIVER    25
#define INET_LOPT_EXITONCLOSE 26
#define INET_LOPT_TCP_HIWTRMRK 27
#define INET_LOPT_TCP_LOWTRMRK 28
#define INET_LOPT_TCP_SEND_TIMEOUT 30
#define INET_LOPT_TCP_DELAY_SEND 31
#define INET_LOPT_PACKET_SIZE 32
#define INET_LOPT_READ_PACKETS 33
#define INET_OPT_RAW         34
#define INET_LOPT_TCP_SEND_TIMEOUT_CLOSE 35
#define INET_LOPT_MSGQ_HIWTRMRK 36
#define INET_LOPT_MSGQ_LOWTRMRK 37
#define INET_LOPT_TCP_SHOW_ECONNRESET 39
#define INET_LOPT_LINE_DELIM 40
#define INET_OPT_TCLASS      41
#define INET_OPT_BIND_TO_DEVICE 42
#define INET_OPT_RECVTOS     43
#define INET_OPT_RECVTCLASS  44
#define INET_OPT_PKTOPTIONS  45
#define INET_OPT_TTL         46
#define INET_OPT_RECVTTL     47
#define TCP_OPT_NOPUSH       48
#define INET_OPT_DEBUG       99

#define INET_AF_INET  1
#define INET_AF_INET6 2
#define INET_AF_LOCAL 5

#define INET_STAT_RECV_CNT  1
#define INET_STAT_RECV_MAX  2
#define INET_STAT_RECV_AVG  3
#define INET_STAT_RECV_DVI  4
#define INET_STAT_SEND_CNT  5
#define INET_STAT_SEND_MAX  6
#define INET_STAT_SEND_AVG  7
#define INET_STAT_SEND_PEND 8
#define INET_STAT_RECV_OCT  9
#define INET_STAT_SEND_OCT  10

#define INET_SUBS_EMPTY_OUT_Q 1

#define GS_MAX_BUFFER (64 * 1024 * 1024)

/* inet options that are plain integer socket options, both ways */
static const struct { int opt, level, name; } plain_sockopts[] = {
    { INET_OPT_REUSEADDR,   SOL_SOCKET,   SO_REUSEADDR },
    { INET_OPT_KEEPALIVE,   SOL_SOCKET,   SO_KEEPALIVE },
    { INET_OPT_DONTROUTE,   SOL_SOCKET,   SO_DONTROUTE },
    { INET_OPT_BROADCAST,   SOL_SOCKET,   SO_BROADCAST },
    { INET_OPT_OOBINLINE,   SOL_SOCKET,   SO_OOBINLINE },
    { INET_OPT_SNDBUF,      SOL_SOCKET,   SO_SNDBUF },
    { INET_OPT_RCVBUF,      SOL_SOCKET,   SO_RCVBUF },
    { INET_OPT_PRIORITY,    SOL_SOCKET,   SO_PRIORITY },
    { INET_OPT_TOS,         SOL_IP,       IP_TOS },
    { TCP_OPT_NODELAY,      IPPROTO_TCP,  TCP_NODELAY },
    { INET_OPT_IPV6_V6ONLY, IPPROTO_IPV6, IPV6_V6ONLY },
    { INET_OPT_TCLASS,      IPPROTO_IPV6, IPV6_TCLASS },
    { INET_OPT_RECVTOS,     SOL_IP,       IP_RECVTOS },
    { INET_OPT_RECVTCLASS,  IPPROTO_IPV6, IPV6_RECVTCLASS },
    { INET_OPT_TTL,         SOL_IP,       IP_TTL },
    { INET_OPT_RECVTTL,     SOL_IP,       IP_RECVTTL },
    { TCP_OPT_NOPUSH,       IPPROTO_TCP,  TCP_CORK },   /* Linux's nopush */
#ifdef SO_REUSEPORT
    /* Linux's SO_REUSEPORT balances load, so both names are it */
    { INET_OPT_REUSEPORT,   SOL_SOCKET,   SO_REUSEPORT },
    { INET_OPT_REUSEPORT_LB, SOL_SOCKET,  SO_REUSEPORT },
#endif
};

static int plain_sockopt(int opt, int *level, int *name)
{
    size_t i;
    for (i = 0; i < sizeof plain_sockopts / sizeof plain_sockopts[0]; i++)
        if (plain_sockopts[i].opt == opt) {
            *level = plain_sockopts[i].level;
            *name = plain_sockopts[i].name;
            return 1;
        }
    return 0;
}

/* Linux resets SO_PRIORITY when IP_TOS is set; like inet_drv, set the
 * TOS and put the priority back, so the order of the options does not
 * matter. */
static int tos_keep_priority(int fd, const void *arg, socklen_t argsz)
{
    int prio;
    socklen_t l = sizeof prio;
    int have = getsockopt(fd, SOL_SOCKET, SO_PRIORITY, &prio, &l) == 0;
    if (setsockopt(fd, SOL_IP, IP_TOS, arg, argsz) < 0) return -1;
    if (have) (void)setsockopt(fd, SOL_SOCKET, SO_PRIORITY, &prio, sizeof prio);
    return 0;
}

/* ---- a growable list reply ----------------------------------------------- */

typedef struct {
    char *p;
    ErlDrvSizeT len, cap;
    char **rbuf;
    int ok;
} reply_buf;

static void rb_init(reply_buf *r, char **rbuf, ErlDrvSizeT rsize)
{
    r->p = *rbuf;
    r->cap = rsize;
    r->len = 0;
    r->rbuf = rbuf;
    r->ok = 1;
}

static char *rb_room(reply_buf *r, ErlDrvSizeT n)
{
    if (!r->ok) return NULL;
    if (r->len + n > r->cap) {
        ErlDrvSizeT ncap = (r->len + n) * 2;
        char *np = driver_alloc(ncap);
        if (!np) { r->ok = 0; return NULL; }
        memcpy(np, r->p, r->len);
        if (r->p != *r->rbuf) driver_free(r->p);
        r->p = np;
        r->cap = ncap;
    }
    r->len += n;
    return r->p + r->len - n;
}

static void rb_u8(reply_buf *r, unsigned v)
{
    char *p = rb_room(r, 1);
    if (p) p[0] = (char)v;
}

static void rb_u16(reply_buf *r, unsigned v)
{
    char *p = rb_room(r, 2);
    if (p) { p[0] = (char)(v >> 8); p[1] = (char)v; }
}

static void rb_u32(reply_buf *r, uint32_t v)
{
    char *p = rb_room(r, 4);
    if (p) {
        p[0] = (char)(v >> 24); p[1] = (char)(v >> 16);
        p[2] = (char)(v >> 8); p[3] = (char)v;
    }
}

static void rb_u64(reply_buf *r, uint64_t v)
{
    rb_u32(r, (uint32_t)(v >> 32));
    rb_u32(r, (uint32_t)v);
}

static void rb_bytes(reply_buf *r, const void *b, ErlDrvSizeT n)
{
    char *p = rb_room(r, n);
    if (p && n) memcpy(p, b, n);
}

static ErlDrvSSizeT rb_done(reply_buf *r)
{
    if (!r->ok) {
        /* Out of memory: the reply falls back to the caller's buffer. */
        if (r->p != *r->rbuf) driver_free(r->p);
        return gs_inet_error(ENOMEM, r->rbuf, 0);
    }
    *r->rbuf = r->p;
    return (ErlDrvSSizeT)r->len;
}

ErlDrvSSizeT gs_inet_error(int err, char **rbuf, ErlDrvSizeT rsize)
{
    const char *e = gs_errstr(err);
    size_t n = strlen(e);
    char *p = *rbuf;
    if (n + 1 > rsize) {
        p = driver_alloc(n + 1);
        if (!p) return 0;
        *rbuf = p;
    }
    p[0] = INET_REP_ERROR;
    memcpy(p + 1, e, n);
    return (ErlDrvSSizeT)(n + 1);
}

static ErlDrvSSizeT ok_reply(char **rbuf, ErlDrvSizeT rsize)
{
    (void)rsize;    /* rsize is at least 1 */
    (*rbuf)[0] = INET_REP_OK;
    return 1;
}

static int32_t get_i32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (int32_t)(((uint32_t)u[0] << 24) | ((uint32_t)u[1] << 16) |
                     ((uint32_t)u[2] << 8) | u[3]);
}

static int16_t get_i16(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (int16_t)(((unsigned)u[0] << 8) | u[1]);
}

/* ---- setopts --------------------------------------------------------------- */

/* 0 on success, -1 for einval (as inet_drv: stop at the first bad one). */
static int setopts(gs_socket *s, const char *ptr, ErlDrvSizeT len,
                   int *active_set)
{
    while (len >= 5) {
        int opt = (unsigned char)*ptr++;
        int ival = get_i32(ptr);
        int proto = SOL_SOCKET, type = -1, propagate = 0;
        const void *arg = &ival;
        socklen_t argsz = sizeof ival;
        struct linger li;

        ptr += 4;
        len -= 5;
        switch (opt) {
        case INET_LOPT_HEADER: s->hsz = ival; continue;
        case INET_LOPT_MODE:
            if (ival != GS_MODE_LIST && ival != GS_MODE_BINARY) return -1;
            s->mode = ival;
            continue;
        case INET_LOPT_DELIVER: s->deliver = ival; continue;
        case INET_LOPT_BUFFER:
            if (ival < 1) ival = 1;
            if (ival > GS_MAX_BUFFER) ival = GS_MAX_BUFFER;
            s->bufsz = ival;
            s->bufsz_set = 1;
            continue;
        case INET_LOPT_ACTIVE:
            if (ival < 0 || ival > GS_MULTI) return -1;
            *active_set = 1;
            if (ival == GS_MULTI) {
                long ac;
                if (len < 2) return -1;
                ac = (long)s->active_count + get_i16(ptr);
                ptr += 2;
                len -= 2;
                if (ac > 32767 || ac < -32768) return -1;
                s->active = GS_MULTI;
                s->active_count = ac < 0 ? 0 : (int)ac;
                if (s->active_count == 0) {
                    s->active = GS_PASSIVE;
                    s->notify_passive = 1;
                }
            } else {
                s->active = ival;
                s->active_count = 0;
            }
            continue;
        case INET_LOPT_PACKET:
            if (!gs_packet_supported(ival)) return -1;
            s->htype = ival;
            continue;
        case INET_LOPT_PACKET_SIZE: s->psize = (unsigned)ival; continue;
        case INET_LOPT_EXITONCLOSE: s->exitf = ival; continue;
        case INET_LOPT_TCP_HIWTRMRK:
            if (ival < 0) ival = 0;
            if (s->low > (size_t)ival) s->low = (size_t)ival;
            s->high = (size_t)ival;
            continue;
        case INET_LOPT_TCP_LOWTRMRK:
            if (ival < 0) ival = 0;
            if (s->high < (size_t)ival) s->high = (size_t)ival;
            s->low = (size_t)ival;
            continue;
        case INET_LOPT_MSGQ_HIWTRMRK:
            /* Kept and reported as inet_drv does; our messages do not
             * pass through the socket port's queue. */
            if (ival < 1) return -1;
            s->msgq_high = ival;
            if (s->msgq_low > ival) s->msgq_low = ival;
            continue;
        case INET_LOPT_MSGQ_LOWTRMRK:
            if (ival < 1) return -1;
            s->msgq_low = ival;
            if (s->msgq_high < ival) s->msgq_high = ival;
            continue;
        case INET_LOPT_TCP_SEND_TIMEOUT: s->send_timeout = ival; continue;
        case INET_LOPT_TCP_SEND_TIMEOUT_CLOSE:
            s->send_timeout_close = ival;
            continue;
        case INET_LOPT_TCP_DELAY_SEND: s->delay_send = ival; continue;
        case INET_LOPT_TCP_SHOW_ECONNRESET: s->show_econnreset = ival; continue;
        case INET_LOPT_LINE_DELIM: s->delimiter = (char)ival; continue;
        case INET_LOPT_READ_PACKETS: continue;
        case INET_OPT_DEBUG: s->debug = ival != 0; continue;
        case INET_OPT_EXCLUSIVEADDRUSE: continue;   /* Windows only */
        case INET_OPT_LINGER:
            if (len < 4) return -1;
            li.l_onoff = ival;
            li.l_linger = get_i32(ptr);
            ptr += 4;
            len -= 4;
            arg = &li;
            argsz = sizeof li;
            type = SO_LINGER;
            break;
        case INET_OPT_BIND_TO_DEVICE:
            /* <<Len:32, Name:Len/binary>>; <<>> unbinds */
            if (ival < 0 || (ErlDrvSizeT)ival > len) return -1;
            arg = ptr;
            argsz = (socklen_t)ival;
            ptr += ival;
            len -= (ErlDrvSizeT)ival;
            type = SO_BINDTODEVICE;
            propagate = 1;
            break;
        case INET_OPT_RAW: {
            int rlen;
            if (len < 8) return -1;
            proto = ival;
            type = get_i32(ptr);
            rlen = get_i32(ptr + 4);
            ptr += 8;
            len -= 8;
            if (rlen < 0 || (ErlDrvSizeT)rlen > len) return -1;
            arg = ptr;
            argsz = (socklen_t)rlen;
            ptr += rlen;
            len -= (ErlDrvSizeT)rlen;
            break;
        }
        default:
            if (!plain_sockopt(opt, &proto, &type)) return -1;
            /* as inet_drv: only these report a failure */
            propagate = opt == INET_OPT_PRIORITY || opt == INET_OPT_TOS ||
                        opt == INET_OPT_IPV6_V6ONLY ||
                        (opt >= INET_OPT_TCLASS && opt != TCP_OPT_NOPUSH);
            break;
        }
        if (opt == INET_OPT_TOS) {
            if (tos_keep_priority(s->fd, arg, argsz) < 0) return -1;
        } else if (setsockopt(s->fd, proto, type, arg, argsz) < 0 &&
                   propagate) {
            return -1;
        }
        if (type == SO_RCVBUF && proto == SOL_SOCKET && !s->bufsz_set &&
            ival > s->bufsz)
            s->bufsz = ival;    /* as inet_drv: buffer >= recbuf, unless set */
    }
    if (len != 0) return -1;
    gs_socket_options_changed(s);
    return 0;
}

/* ---- getopts --------------------------------------------------------------- */

static int sock_getint(gs_socket *s, int proto, int type, int *v)
{
    socklen_t l = sizeof *v;
    *v = 0;
    return getsockopt(s->fd, proto, type, v, &l);
}

/* {pktoptions, [{tos, T}, {ttl, N}, {tclass, C}]}: what the kernel
 * latched from the last segment for recvtos/recvttl/recvtclass, as
 * <<Len:32, (Opt, Value:32)...>>; left out if the kernel has nothing. */
static void pktoptions(gs_socket *s, reply_buf *r)
{
    union { char buf[512]; struct cmsghdr align; } u;
    struct msghdr mh;
    struct cmsghdr *c;
    socklen_t l = sizeof u.buf;
    char out[64];
    size_t n = 0;
    int rc = s->family == AF_INET6
        ? getsockopt(s->fd, IPPROTO_IPV6, IPV6_2292PKTOPTIONS, u.buf, &l)
        : getsockopt(s->fd, SOL_IP, IP_PKTOPTIONS, u.buf, &l);
    if (rc < 0) return;
    memset(&mh, 0, sizeof mh);
    mh.msg_control = u.buf;
    mh.msg_controllen = l;
    for (c = CMSG_FIRSTHDR(&mh); c && n + 5 <= sizeof out;
         c = CMSG_NXTHDR(&mh, c)) {
        size_t dl = c->cmsg_len - CMSG_LEN(0);
        int opt = -1;
        uint32_t v = 0;
        if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_TOS)
            opt = INET_OPT_TOS;
        else if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_TTL)
            opt = INET_OPT_TTL;
        else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS)
            opt = INET_OPT_TCLASS;
        if (opt < 0 || dl == 0) continue;
        if (dl >= sizeof(int)) {
            int iv;
            memcpy(&iv, CMSG_DATA(c), sizeof iv);
            v = (uint32_t)iv;
        } else {
            v = *(unsigned char *)CMSG_DATA(c);
        }
        out[n++] = (char)opt;
        out[n++] = (char)(v >> 24); out[n++] = (char)(v >> 16);
        out[n++] = (char)(v >> 8);  out[n++] = (char)v;
    }
    rb_u8(r, INET_OPT_PKTOPTIONS);
    rb_u32(r, (uint32_t)n);
    rb_bytes(r, out, n);
}

static ErlDrvSSizeT getopts(gs_socket *s, const char *buf, ErlDrvSizeT len,
                            char **rbuf, ErlDrvSizeT rsize)
{
    reply_buf r;
    rb_init(&r, rbuf, rsize);
    rb_u8(&r, INET_REP_OK);

    while (len > 0) {
        int opt = (unsigned char)*buf++;
        int proto = SOL_SOCKET, type, v;
        len--;
        switch (opt) {
        case INET_LOPT_BUFFER: rb_u8(&r, opt); rb_u32(&r, s->bufsz); continue;
        case INET_LOPT_HEADER: rb_u8(&r, opt); rb_u32(&r, s->hsz); continue;
        case INET_LOPT_MODE: rb_u8(&r, opt); rb_u32(&r, s->mode); continue;
        case INET_LOPT_DELIVER: rb_u8(&r, opt); rb_u32(&r, s->deliver); continue;
        case INET_OPT_DEBUG: rb_u8(&r, opt); rb_u32(&r, s->debug); continue;
        case INET_OPT_EXCLUSIVEADDRUSE: rb_u8(&r, opt); rb_u32(&r, 0); continue;
        case INET_LOPT_ACTIVE:
            rb_u8(&r, opt);
            rb_u32(&r, s->active);
            if (s->active == GS_MULTI) rb_u16(&r, (unsigned)s->active_count);
            continue;
        case INET_LOPT_PACKET: rb_u8(&r, opt); rb_u32(&r, s->htype); continue;
        case INET_LOPT_PACKET_SIZE: rb_u8(&r, opt); rb_u32(&r, s->psize); continue;
        case INET_LOPT_EXITONCLOSE: rb_u8(&r, opt); rb_u32(&r, s->exitf); continue;
        case INET_LOPT_TCP_HIWTRMRK: rb_u8(&r, opt); rb_u32(&r, (uint32_t)s->high); continue;
        case INET_LOPT_TCP_LOWTRMRK: rb_u8(&r, opt); rb_u32(&r, (uint32_t)s->low); continue;
        case INET_LOPT_MSGQ_HIWTRMRK:
            rb_u8(&r, opt); rb_u32(&r, (uint32_t)s->msgq_high); continue;
        case INET_LOPT_MSGQ_LOWTRMRK:
            rb_u8(&r, opt); rb_u32(&r, (uint32_t)s->msgq_low); continue;
        case INET_LOPT_TCP_SEND_TIMEOUT:
            rb_u8(&r, opt); rb_u32(&r, (uint32_t)s->send_timeout); continue;
        case INET_LOPT_TCP_SEND_TIMEOUT_CLOSE:
            rb_u8(&r, opt); rb_u32(&r, s->send_timeout_close); continue;
        case INET_LOPT_TCP_DELAY_SEND:
            rb_u8(&r, opt); rb_u32(&r, s->delay_send); continue;
        case INET_LOPT_TCP_SHOW_ECONNRESET:
            rb_u8(&r, opt); rb_u32(&r, s->show_econnreset); continue;
        case INET_OPT_LINGER: {
            struct linger li;
            socklen_t l = sizeof li;
            if (getsockopt(s->fd, SOL_SOCKET, SO_LINGER, &li, &l) < 0)
                continue;
            rb_u8(&r, opt);
            rb_u32(&r, (uint32_t)li.l_onoff);
            rb_u32(&r, (uint32_t)li.l_linger);
            continue;
        }
        case INET_OPT_PKTOPTIONS:
            pktoptions(s, &r);
            continue;
        case INET_OPT_BIND_TO_DEVICE: {
            char dev[IFNAMSIZ + 1];
            socklen_t l = IFNAMSIZ;
            memset(dev, 0, sizeof dev);
            if (getsockopt(s->fd, SOL_SOCKET, SO_BINDTODEVICE, dev, &l) < 0)
                continue;
            rb_u8(&r, opt);
            rb_u32(&r, (uint32_t)strlen(dev));
            rb_bytes(&r, dev, strlen(dev));
            continue;
        }
        case INET_OPT_RAW: {
            int rproto, rtype, provided, rlen;
            char data[1024];
            socklen_t l;
            if (len < 13) goto bad;
            rproto = get_i32(buf);
            rtype = get_i32(buf + 4);
            provided = (unsigned char)buf[8];
            rlen = get_i32(buf + 9);
            buf += 13;
            len -= 13;
            if (rlen < 0 || rlen > (int)sizeof data) goto bad;
            memset(data, 0, sizeof data);
            if (provided) {
                if ((ErlDrvSizeT)rlen > len) goto bad;
                memcpy(data, buf, (size_t)rlen);
                buf += rlen;
                len -= (ErlDrvSizeT)rlen;
            }
            l = (socklen_t)rlen;
            if (getsockopt(s->fd, rproto, rtype, data, &l) < 0)
                continue;
            rb_u8(&r, opt);
            rb_u32(&r, (uint32_t)rproto);
            rb_u32(&r, (uint32_t)rtype);
            rb_u32(&r, (uint32_t)l);
            rb_bytes(&r, data, l);
            continue;
        }
        default:
            if (!plain_sockopt(opt, &proto, &type)) goto bad;
            break;
        }
        if (sock_getint(s, proto, type, &v) < 0)
            continue;   /* as inet_drv: an option the OS refuses is left out */
        rb_u8(&r, opt);
        rb_u32(&r, (uint32_t)v);
    }
    return rb_done(&r);
bad:
    if (r.p != *rbuf) driver_free(r.p);
    return gs_inet_error(EINVAL, rbuf, rsize);
}

/* ---- names, statistics ------------------------------------------------------ */

static ErlDrvSSizeT name_reply(gs_socket *s, int peer, char **rbuf,
                               ErlDrvSizeT rsize)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    reply_buf r;
    int rc;

    if (s->fd < 0) return gs_inet_error(EINVAL, rbuf, rsize);
    rc = peer ? getpeername(s->fd, (struct sockaddr *)&ss, &l)
              : getsockname(s->fd, (struct sockaddr *)&ss, &l);
    if (rc < 0) return gs_inet_error(errno, rbuf, rsize);
    rb_init(&r, rbuf, rsize);
    rb_u8(&r, INET_REP_OK);
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        rb_u8(&r, INET_AF_INET);
        rb_u16(&r, ntohs(in->sin_port));
        rb_bytes(&r, &in->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        rb_u8(&r, INET_AF_INET6);
        rb_u16(&r, ntohs(in6->sin6_port));
        rb_bytes(&r, &in6->sin6_addr, 16);
    } else if (ss.ss_family == AF_UNIX) {
        /* <<5, Len, Path>>: an unnamed socket has an empty path */
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        size_t n = l > offsetof(struct sockaddr_un, sun_path)
                   ? l - offsetof(struct sockaddr_un, sun_path) : 0;
        if (n > sizeof un->sun_path) n = sizeof un->sun_path;
        while (n > 0 && un->sun_path[0] != '\0' && un->sun_path[n - 1] == '\0')
            n--;
        rb_u8(&r, INET_AF_LOCAL);
        rb_u8(&r, (unsigned)n);
        rb_bytes(&r, un->sun_path, n);
    } else {
        if (r.p != *rbuf) driver_free(r.p);
        return gs_inet_error(EINVAL, rbuf, rsize);
    }
    return rb_done(&r);
}

static ErlDrvSSizeT getstat(gs_socket *s, const char *buf, ErlDrvSizeT len,
                            char **rbuf, ErlDrvSizeT rsize)
{
    reply_buf r;
    rb_init(&r, rbuf, rsize);
    rb_u8(&r, INET_REP_OK);
    while (len-- > 0) {
        int st = (unsigned char)*buf++;
        rb_u8(&r, st);
        switch (st) {
        case INET_STAT_RECV_CNT: rb_u32(&r, (uint32_t)s->recv_cnt); break;
        case INET_STAT_RECV_MAX: rb_u32(&r, (uint32_t)s->recv_max); break;
        case INET_STAT_RECV_AVG: rb_u32(&r, (uint32_t)s->recv_avg); break;
        case INET_STAT_RECV_DVI:
            rb_u32(&r, (uint32_t)(int64_t)s->recv_dvi);   /* may be < 0 */
            break;
        case INET_STAT_SEND_CNT: rb_u32(&r, (uint32_t)s->send_cnt); break;
        case INET_STAT_SEND_MAX: rb_u32(&r, (uint32_t)s->send_max); break;
        case INET_STAT_SEND_AVG: rb_u32(&r, (uint32_t)s->send_avg); break;
        case INET_STAT_SEND_PEND: rb_u32(&r, (uint32_t)s->sq.bytes); break;
        case INET_STAT_RECV_OCT: rb_u64(&r, s->recv_oct); break;
        case INET_STAT_SEND_OCT: rb_u64(&r, s->send_oct); break;
        default:
            if (r.p != *rbuf) driver_free(r.p);
            return gs_inet_error(EINVAL, rbuf, rsize);
        }
    }
    return rb_done(&r);
}

static ErlDrvSSizeT subscribe(gs_socket *s, const char *buf, ErlDrvSizeT len,
                              char **rbuf, ErlDrvSizeT rsize,
                              ErlDrvTermData caller)
{
    reply_buf r;
    rb_init(&r, rbuf, rsize);
    rb_u8(&r, INET_REP_OK);
    while (len-- > 0) {
        if ((unsigned char)*buf++ != INET_SUBS_EMPTY_OUT_Q) {
            if (r.p != *rbuf) driver_free(r.p);
            return gs_inet_error(EINVAL, rbuf, rsize);
        }
        rb_u8(&r, INET_SUBS_EMPTY_OUT_Q);
        rb_u32(&r, (uint32_t)gs_socket_subscribe_empty(s, caller));
    }
    return rb_done(&r);
}

ErlDrvSSizeT gs_inet_control(gs_socket *s, unsigned cmd, const char *buf,
                             ErlDrvSizeT len, char **rbuf,
                             ErlDrvSizeT rsize, ErlDrvTermData caller)
{
    switch (cmd) {
    case INET_REQ_SETOPTS:
    {
        int active_set = 0;
        if (setopts(s, buf, len, &active_set) < 0) {
            /* options before the failing one stay applied, as in
             * inet_drv; a change of 'active' must still take effect */
            gs_socket_options_changed(s);
            if (active_set) gs_socket_deliver_now(s);
            return gs_inet_error(EINVAL, rbuf, rsize);
        }
        /* as inet_drv: setting 'active' delivers what is there now */
        if (active_set) gs_socket_deliver_now(s);
        return ok_reply(rbuf, rsize);
    }
    case INET_REQ_GETOPTS:
        return getopts(s, buf, len, rbuf, rsize);
    case INET_REQ_PEER:
        if (s->state != GS_ST_CONNECTED)
            return gs_inet_error(ENOTCONN, rbuf, rsize);
        return name_reply(s, 1, rbuf, rsize);
    case INET_REQ_NAME:
        return name_reply(s, 0, rbuf, rsize);
    case INET_REQ_GETSTAT:
        return getstat(s, buf, len, rbuf, rsize);
    case INET_REQ_SUBSCRIBE:
        return subscribe(s, buf, len, rbuf, rsize, caller);
    case TCP_REQ_UNRECV: {
        int err;
        if (gs_socket_unrecv(s, buf, len, &err) != GS_OK)
            return gs_inet_error(err, rbuf, rsize);
        gs_socket_deliver_now(s);
        return ok_reply(rbuf, rsize);
    }
    case TCP_REQ_SENDFILE: {
        int err;
        if (gs_sendfile_start(s, caller, buf, len, &err) != GS_OK)
            return gs_inet_error(err, rbuf, rsize);
        return ok_reply(rbuf, rsize);
    }
    case INET_REQ_GETFD: {
        reply_buf r;
        if (s->fd < 0) return gs_inet_error(EINVAL, rbuf, rsize);
        rb_init(&r, rbuf, rsize);
        rb_u8(&r, INET_REP_OK);
        rb_u32(&r, (uint32_t)s->fd);
        return rb_done(&r);
    }
    default:
        return gs_inet_error(EINVAL, rbuf, rsize);
    }
}
