/* gs_packet.h -- packet framing on a socket's receive buffer.
 *
 * Numbering is inet_drv's (TCP_PB_*), as prim_inet encodes {packet, P}.
 */
#ifndef GS_PACKET_H
#define GS_PACKET_H

#include <stddef.h>

#define GS_PB_RAW      0
#define GS_PB_1        1
#define GS_PB_2        2
#define GS_PB_4        3
#define GS_PB_ASN1     4
#define GS_PB_RM       5
#define GS_PB_CDR      6
#define GS_PB_FCGI     7
#define GS_PB_LINE_LF  8
#define GS_PB_TPKT     9
#define GS_PB_HTTP     10
#define GS_PB_HTTPH    11
#define GS_PB_SSL_TLS  12
#define GS_PB_HTTP_BIN 13
#define GS_PB_HTTPH_BIN 14

/* Is this packet type implemented? */
int gs_packet_supported(int htype);

/* Length of the first complete packet in buf[0, len), header included:
 *   > 0  a packet of that many bytes is ready;
 *   0    more data is needed;
 *   -1   the packet is larger than psize (emsgsize).
 * For raw, want > 0 asks for exactly want bytes, want == 0 for all.
 * maxline caps a line (the 'buffer' size), as inet_drv does; it is also
 * the limit of an http line when psize is 0.  http_state is 0 when an
 * http request/status line is next, 1 in the headers. */
long gs_packet_length(int htype, const char *buf, size_t len, size_t want,
                      unsigned psize, int delim, size_t maxline,
                      int http_state);

/* Bytes of header that are stripped from a delivered packet. */
size_t gs_packet_header_size(int htype);

/* Bytes at the end of a complete packet that are consumed but not
 * delivered (the padding of fcgi). */
size_t gs_packet_trailer_size(int htype, const char *pkt, size_t len);

/* How many bytes the read should at least ask for to complete the
 * packet being assembled (0 when unknown). */
size_t gs_packet_need(int htype, const char *buf, size_t len, size_t want);

#endif
