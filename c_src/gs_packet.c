/* gs_packet.c -- packet framing (raw, 1/2/4, line).
 *
 * Semantics follow erlang:decode_packet/3 for the types implemented; the
 * remaining types answer unsupported and are rejected at setopts.
 */
#include <string.h>
#include "gs_packet.h"

int gs_packet_supported(int htype)
{
    switch (htype) {
    case GS_PB_RAW: case GS_PB_1: case GS_PB_2: case GS_PB_4:
    case GS_PB_LINE_LF:
        return 1;
    default:
        return 0;
    }
}

size_t gs_packet_header_size(int htype)
{
    switch (htype) {
    case GS_PB_1: return 1;
    case GS_PB_2: return 2;
    case GS_PB_4: return 4;
    default: return 0;
    }
}

static long fixed_header(const unsigned char *p, size_t len, size_t hlen,
                         unsigned psize)
{
    size_t plen;
    if (len < hlen) return 0;
    switch (hlen) {
    case 1: plen = p[0]; break;
    case 2: plen = ((size_t)p[0] << 8) | p[1]; break;
    default:
        plen = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) |
               ((size_t)p[2] << 8) | p[3];
        break;
    }
    if (psize && plen > psize) return -1;
    if (len < hlen + plen) return 0;
    return (long)(hlen + plen);
}

long gs_packet_length(int htype, const char *buf, size_t len, size_t want,
                      unsigned psize, int delim, size_t maxline)
{
    const unsigned char *p = (const unsigned char *)buf;
    switch (htype) {
    case GS_PB_RAW:
        if (len == 0) return 0;
        if (want == 0) return (long)len;
        return len >= want ? (long)want : 0;
    case GS_PB_1: return fixed_header(p, len, 1, psize);
    case GS_PB_2: return fixed_header(p, len, 2, psize);
    case GS_PB_4: return fixed_header(p, len, 4, psize);
    case GS_PB_LINE_LF: {
        size_t lim = len;
        const void *nl;
        if (maxline && lim > maxline) lim = maxline;
        nl = memchr(p, delim, lim);
        if (nl) return (long)((const unsigned char *)nl - p + 1);
        if (maxline && len >= maxline) return (long)maxline;  /* too long: cut */
        if (psize && len > psize) return -1;
        return 0;
    }
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
