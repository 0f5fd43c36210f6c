/* gs_parse.h -- packet types delivered as terms: http, httph, http_bin,
 * httph_bin and ssl_tls.
 *
 * gs_packet.c finds where such a packet ends; this file turns the packet
 * into the term gen_tcp delivers for it, the terms of
 * erlang:decode_packet/3 ({http_request, ...}, {http_header, ...},
 * http_eoh, {http_error, Line}, {ssl_tls, S, Type, {Major, Minor}, Bin}).
 */
#ifndef GS_PARSE_H
#define GS_PARSE_H

#include <stddef.h>
#include "gs_compat.h"

/* Spec entries a parsed term needs at most (the request line with an
 * absolute URI is the largest). */
#define GS_PARSE_SPEC_MAX 40

/* Longest header name that is normalised ("content-type" ->
 * "Content-Type") and looked up; longer names are kept as sent. */
#define GS_HTTP_MAX_NAME 50

/* Storage a term may point into until it is sent. */
typedef struct {
    char name[GS_HTTP_MAX_NAME];    /* the normalised header name */
    char *heap;                     /* the ssl_tls v2 hello, rebuilt */
} gs_parse_buf;

void gs_parse_init(void);

/* Is htype one of the types delivered as a parsed term? */
int gs_parse_is_term(int htype);

/* Is the term delivered bare in active mode (ssl_tls), rather than as
 * {http, S, Term}? */
int gs_parse_is_bare(int htype);

/* Puts the term of the packet pkt[0, len) into spec and returns the
 * count.  *http_state is 0 while a request or status line is expected,
 * 1 in the headers; it advances as gen_tcp's does.  port is the socket's
 * port term (ssl_tls carries it).  Call gs_parse_done(buf) once the term
 * is sent. */
int gs_parse_term(int htype, int *http_state, const char *pkt, size_t len,
                  ErlDrvTermData port, gs_parse_buf *buf,
                  ErlDrvTermData *spec);

void gs_parse_done(gs_parse_buf *buf);

#endif
