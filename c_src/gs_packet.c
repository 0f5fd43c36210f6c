/* gs_packet.c -- packet framing: where the next packet of each type ends
 * (raw, 1/2/4, sunrm, asn1, cdr, fcgi, tpkt, ssl_tls, line, http*).
 *
 * Semantics follow erlang:decode_packet/3.  The terms of the http* and
 * ssl_tls packets are built in gs_parse.c.
 */
#include <string.h>
#include "gs_packet.h"

int gs_packet_supported(int htype)
{
    return htype >= GS_PB_RAW && htype <= GS_PB_HTTPH_BIN;
}

size_t gs_packet_header_size(int htype)
{
    switch (htype) {
    case GS_PB_1: return 1;
    case GS_PB_2: return 2;
    case GS_PB_4: return 4;
    default: return 0;  /* the other types deliver their header too */
    }
}

size_t gs_packet_trailer_size(int htype, const char *pkt, size_t len)
{
    /* fcgi: the padding is consumed but not delivered, as inet_drv does */
    if (htype == GS_PB_FCGI && len >= 8)
        return (unsigned char)pkt[6];
    return 0;
}

static size_t get_be(const unsigned char *p, int n)
{
    size_t v = 0;
    while (n-- > 0) v = (v << 8) | *p++;
    return v;
}

/* A header of hlen bytes announced a payload of plen: the total, or -1
 * when it is over packet_size (psize, 0 = no limit) or wraps. */
static long remain(size_t hlen, size_t plen, unsigned psize);

/* A complete packet of total bytes is ready if that many are buffered. */
static long fixed(long total, size_t len)
{
    if (total <= 0) return total;
    return (size_t)total <= len ? total : 0;
}

static long remain(size_t hlen, size_t plen, unsigned psize)
{
    if (psize && plen > psize) return -1;
    if (hlen + plen < hlen || hlen + plen > 0x7fffffffu) return -1;
    return (long)(hlen + plen);
}

static long asn1_length(const unsigned char *p, size_t n, unsigned psize)
{
    const unsigned char *t = p;
    size_t nn = n, plen;
    int lenlen;

    if (n < 2) return 0;
    nn--;
    if ((*t++ & 0x1f) == 0x1f) {            /* long tag */
        while (nn && (*t & 0x80)) { t++; nn--; }
        if (nn < 2) return 0;
        t++;
        nn--;
    }
    lenlen = *t & 0x7f;
    if (*t & 0x80) {                        /* long length */
        t++;
        nn--;
        if (nn < (size_t)lenlen) return 0;
        if (lenlen > 4) return -1;
        plen = get_be(t, lenlen);
        t += lenlen;
    } else {
        t++;
        plen = (size_t)lenlen;
    }
    return remain((size_t)(t - p), plen, psize);
}

/* An HTTP line ends at LF.  In the headers (state 1) a line followed by
 * SP or TAB continues, so the byte after the LF must be seen first.  The
 * limit is packet_size, or else the buffer size. */
static long http_length(const char *p, size_t n, unsigned psize,
                        size_t maxline, int state)
{
    size_t max = psize ? psize : maxline, left = n, plen;
    const char *from = p, *nl;

    if ((n == 1 && p[0] == '\n') || (n == 2 && p[0] == '\r' && p[1] == '\n'))
        return (long)n;
    for (;;) {
        nl = memchr(from, '\n', left);
        if (!nl) return max && n >= max ? -1 : 0;
        plen = (size_t)(nl - p) + 1;
        if (state != 0 && plen < n && plen > 2 &&
            (p[plen] == ' ' || p[plen] == '\t')) {
            from = nl + 1;          /* a folded header value */
            left = n - plen;
            continue;
        }
        if (max && plen > max) return -1;
        if (state != 0 && plen == n) return 0;
        return (long)plen;
    }
}

long gs_packet_length(int htype, const char *buf, size_t len, size_t want,
                      unsigned psize, int delim, size_t maxline,
                      int http_state)
{
    const unsigned char *p = (const unsigned char *)buf;
    switch (htype) {
    case GS_PB_RAW:
        if (len == 0) return 0;
        if (want == 0) return (long)len;
        return len >= want ? (long)want : 0;
    case GS_PB_1:
        return len < 1 ? 0 : fixed(remain(1, get_be(p, 1), psize), len);
    case GS_PB_2:
        return len < 2 ? 0 : fixed(remain(2, get_be(p, 2), psize), len);
    case GS_PB_4:
        return len < 4 ? 0 : fixed(remain(4, get_be(p, 4), psize), len);
    case GS_PB_RM:
        return len < 4 ? 0
             : fixed(remain(4, get_be(p, 4) & 0x7fffffffu, psize), len);
    case GS_PB_ASN1:
        return fixed(asn1_length(p, len, psize), len);
    case GS_PB_CDR:         /* "GIOP", version, flags, type, size */
        if (len < 12) return 0;
        if (memcmp(p, "GIOP", 4) != 0) return -1;
        return fixed(remain(12, (p[6] & 1)
                            ? (size_t)p[8] | ((size_t)p[9] << 8) |
                              ((size_t)p[10] << 16) | ((size_t)p[11] << 24)
                            : get_be(p + 8, 4), psize), len);
    case GS_PB_FCGI:        /* version 1, type, id:16, clen:16, padding */
        if (len < 8) return 0;
        if (p[0] != 1) return -1;
        return fixed(remain(8, get_be(p + 4, 2) + p[6], psize), len);
    case GS_PB_TPKT:        /* version 3, reserved, length:16 incl. header */
        if (len < 4) return 0;
        if (p[0] != 3) return -1;
        return fixed(remain(4, get_be(p + 2, 2) - 4, psize), len);
    case GS_PB_SSL_TLS:
        if (len < 5) return 0;
        if ((p[0] & 0x80) && p[2] == 1)     /* SSLv2 client hello */
            return fixed(remain(5, (get_be(p, 2) & 0x7fff) - 3, psize), len);
        return fixed(remain(5, get_be(p + 3, 2), psize), len);
    case GS_PB_LINE_LF: {
        const unsigned char *nl = memchr(p, delim, len);
        if (!nl) {
            if (psize && len > psize) return -1;
            if (maxline && len >= maxline) return (long)maxline;
            return 0;
        } else {
            size_t l = (size_t)(nl - p) + 1;
            if (psize && l > psize) return -1;
            if (maxline && l > maxline) return (long)maxline;
            return (long)l;
        }
    }
    case GS_PB_HTTPH: case GS_PB_HTTPH_BIN:
        return http_length(buf, len, psize, maxline, 1);
    case GS_PB_HTTP: case GS_PB_HTTP_BIN:
        return http_length(buf, len, psize, maxline, http_state);
    default:
        return -1;
    }
}

size_t gs_packet_need(int htype, const char *buf, size_t len, size_t want)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t h = gs_packet_header_size(htype), plen;
    if (htype == GS_PB_RAW)
        return want > len ? want - len : 0;
    if (h == 0 || len < h) return 0;
    plen = h == 1 ? p[0] : h == 2 ? (((size_t)p[0] << 8) | p[1])
         : (((size_t)p[0] << 24) | ((size_t)p[1] << 16) |
            ((size_t)p[2] << 8) | p[3]);
    return h + plen > len ? h + plen - len : 0;
}
