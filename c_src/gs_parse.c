/* gs_parse.c -- the terms of the http* and ssl_tls packet types.
 *
 * The grammar, the known methods and header names and every corner
 * (HTTP/0.9 request lines, empty reason phrases, folded header values,
 * names longer than 50 bytes kept as sent) follow erlang:decode_packet/3
 * as it behaves on the supported releases; the compat suite compares the
 * terms with gen_tcp's byte stream by byte stream.  Character classes are
 * ASCII: bytes >= 128 are never letters or digits.
 */
#include <stdlib.h>
#include <string.h>
#include "gs_parse.h"
#include "gs_packet.h"
#include "gs_atoms.h"

/* Header names with an atom, in the order that gives their index
 * (index + 1 is the integer in {http_header, Int, ...}). */
static const char *const hdr_names[] = {
    "Cache-Control", "Connection", "Date", "Pragma", "Transfer-Encoding",
    "Upgrade", "Via", "Accept", "Accept-Charset", "Accept-Encoding",
    "Accept-Language", "Authorization", "From", "Host",
    "If-Modified-Since", "If-Match", "If-None-Match", "If-Range",
    "If-Unmodified-Since", "Max-Forwards", "Proxy-Authorization", "Range",
    "Referer", "User-Agent", "Age", "Location", "Proxy-Authenticate",
    "Public", "Retry-After", "Server", "Vary", "Warning",
    "Www-Authenticate", "Allow", "Content-Base", "Content-Encoding",
    "Content-Language", "Content-Length", "Content-Location",
    "Content-Md5", "Content-Range", "Content-Type", "Etag", "Expires",
    "Last-Modified", "Accept-Ranges", "Set-Cookie", "Set-Cookie2",
    "X-Forwarded-For", "Cookie", "Keep-Alive", "Proxy-Connection"
};
#define N_HDR (sizeof hdr_names / sizeof hdr_names[0])

static const char *const meth_names[] = {
    "OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE"
};
#define N_METH (sizeof meth_names / sizeof meth_names[0])

static ErlDrvTermData hdr_atoms[N_HDR], meth_atoms[N_METH];
static ErlDrvTermData am_http_eoh, am_http_header, am_http_request,
    am_http_response, am_http_error, am_abs_path, am_absoluteURI, am_star,
    am_https, am_scheme, am_undefined, am_ssl_tls;

/* The 4th element of {http_header, ...}: the field name as sent since
 * OTP 23, the atom undefined before (R16B01 .. OTP 22), as that release's
 * gen_tcp and decode_packet give it. */
static int unmodified_field = 1;

static int release_at_least(const char *rel, int want)
{
    if (!rel || rel[0] == 'R') return 0;      /* "R16B01": before OTP 17 */
    return atoi(rel) >= want;
}

void gs_parse_init(void)
{
    size_t i;
    ErlDrvSysInfo si;
    driver_system_info(&si, sizeof si);
    unmodified_field = release_at_least(si.otp_release, 23);
    for (i = 0; i < N_HDR; i++)
        hdr_atoms[i] = driver_mk_atom((char *)hdr_names[i]);
    for (i = 0; i < N_METH; i++)
        meth_atoms[i] = driver_mk_atom((char *)meth_names[i]);
    am_http_eoh = driver_mk_atom("http_eoh");
    am_http_header = driver_mk_atom("http_header");
    am_http_request = driver_mk_atom("http_request");
    am_http_response = driver_mk_atom("http_response");
    am_http_error = driver_mk_atom("http_error");
    am_abs_path = driver_mk_atom("abs_path");
    am_absoluteURI = driver_mk_atom("absoluteURI");
    am_star = driver_mk_atom("*");
    am_https = driver_mk_atom("https");
    am_scheme = driver_mk_atom("scheme");
    am_undefined = driver_mk_atom("undefined");
    am_ssl_tls = driver_mk_atom("ssl_tls");
}

int gs_parse_is_term(int htype)
{
    return htype == GS_PB_HTTP || htype == GS_PB_HTTPH ||
           htype == GS_PB_HTTP_BIN || htype == GS_PB_HTTPH_BIN ||
           htype == GS_PB_SSL_TLS;
}

int gs_parse_is_bare(int htype)
{
    return htype == GS_PB_SSL_TLS;
}

void gs_parse_done(gs_parse_buf *buf)
{
    if (buf->heap) driver_free(buf->heap);
    buf->heap = NULL;
}

/* ---- characters ---------------------------------------------------------- */

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_lower(int c) { return c >= 'a' && c <= 'z'; }
static int is_upper(int c) { return c >= 'A' && c <= 'Z'; }
static int is_sp(int c) { return c == ' ' || c == '\t'; }

/* RFC 2616 separators, controls, space and bytes >= 128 end a token;
 * DEL does not (as decode_packet). */
static int is_tspecial(unsigned char c)
{
    if (c <= 32 || c >= 128) return 1;
    return strchr("()<>@,;:\\\"/[]?={}", c) != NULL;
}

/* Case-insensitive prefix test, ASCII. */
static int has_prefix_ci(const char *p, size_t n, const char *pre)
{
    size_t k = strlen(pre), i;
    if (n < k) return 0;
    for (i = 0; i < k; i++) {
        int c = (unsigned char)p[i];
        if (is_upper(c)) c += 'a' - 'A';
        if (c != pre[i]) return 0;
    }
    return 1;
}

/* Reads decimal digits into *v (wrapping like C int arithmetic would on
 * the reference implementation); returns how many were read. */
static size_t read_int(const char **p, size_t *n, int *v)
{
    const char *s = *p;
    unsigned acc = 0;
    while (*n && is_digit((unsigned char)**p)) {
        acc = acc * 10u + (unsigned)(**p - '0');
        (*p)++;
        (*n)--;
    }
    *v = (int)acc;
    return (size_t)(*p - s);
}

static size_t skip_sp(const char **p, size_t *n)
{
    const char *s = *p;
    while (*n && is_sp((unsigned char)**p)) { (*p)++; (*n)--; }
    return (size_t)(*p - s);
}

/* ---- terms --------------------------------------------------------------- */

typedef struct {
    ErlDrvTermData *spec;
    int i;
    int bin;                    /* strings as binaries (the *_bin types) */
} term;

static void t_atom(term *t, ErlDrvTermData a)
{
    t->spec[t->i++] = ERL_DRV_ATOM;
    t->spec[t->i++] = a;
}

static void t_int(term *t, int v)
{
    t->spec[t->i++] = ERL_DRV_INT;
    t->spec[t->i++] = (ErlDrvTermData)(ErlDrvSInt)v;
}

static void t_str(term *t, const char *p, size_t n)
{
    t->spec[t->i++] = t->bin ? ERL_DRV_BUF2BINARY : ERL_DRV_STRING;
    t->spec[t->i++] = (ErlDrvTermData)p;
    t->spec[t->i++] = (ErlDrvTermData)n;
}

static void t_tuple(term *t, int arity)
{
    t->spec[t->i++] = ERL_DRV_TUPLE;
    t->spec[t->i++] = (ErlDrvTermData)arity;
}

/* ---- URIs ---------------------------------------------------------------- */

/* After "http://": host[:port][/path]; a port that is not all digits, or
 * 0, is undefined. */
static void uri_absolute(term *t, ErlDrvTermData scheme, const char *p,
                         size_t n)
{
    const char *slash = memchr(p, '/', n), *path = "/", *colon;
    size_t pathlen = 1, hostlen;
    int port = 0;

    if (slash) {
        path = slash;
        pathlen = n - (size_t)(slash - p);
        n = (size_t)(slash - p);
    }
    colon = memchr(p, ':', n);
    hostlen = colon ? (size_t)(colon - p) : n;
    if (colon) {
        const char *q = colon + 1;
        size_t rest = n - hostlen - 1;
        read_int(&q, &rest, &port);
        if (rest != 0) port = 0;
    }
    t_atom(t, am_absoluteURI);
    t_atom(t, scheme);
    t_str(t, p, hostlen);
    if (port == 0) t_atom(t, am_undefined);
    else t_int(t, port);
    t_str(t, path, pathlen);
    t_tuple(t, 5);
}

static void uri_term(term *t, const char *p, size_t n)
{
    const char *colon;
    if (n == 1 && p[0] == '*') {
        t_atom(t, am_star);
    } else if (n <= 1 || p[0] == '/') {
        t_atom(t, am_abs_path);
        t_str(t, p, n);
        t_tuple(t, 2);
    } else if (has_prefix_ci(p, n, "http://")) {
        uri_absolute(t, am_http, p + 7, n - 7);
    } else if (has_prefix_ci(p, n, "https://")) {
        uri_absolute(t, am_https, p + 8, n - 8);
    } else if ((colon = memchr(p, ':', n)) != NULL) {
        size_t sl = (size_t)(colon - p);
        t_atom(t, am_scheme);
        t_str(t, p, sl);
        t_str(t, colon + 1, n - sl - 1);
        t_tuple(t, 3);
    } else {
        t_str(t, p, n);
    }
}

/* ---- lines --------------------------------------------------------------- */

/* "HTTP/" digits "." digits; 0 on a malformed version. */
static int read_version(const char **p, size_t *n, int *major, int *minor)
{
    if (*n < 5 || strncmp(*p, "HTTP/", 5) != 0) return 0;
    *p += 5;
    *n -= 5;
    if (read_int(p, n, major) == 0 || *n == 0 || **p != '.') return 0;
    (*p)++;
    (*n)--;
    return read_int(p, n, minor) != 0;
}

/* Status-Line: HTTP/M.m SP [status] [SP phrase] */
static int status_line(term *t, const char *p, size_t n)
{
    int major, minor, status;
    if (!read_version(&p, &n, &major, &minor)) return -1;
    if (skip_sp(&p, &n) == 0) return -1;
    read_int(&p, &n, &status);
    if (skip_sp(&p, &n) == 0 && n > 0) return -1;
    t_atom(t, am_http_response);
    t_int(t, major);
    t_int(t, minor);
    t_tuple(t, 2);
    t_int(t, status);
    t_str(t, p, n);
    t_tuple(t, 4);
    return 0;
}

/* Request-Line: Method SP URI [SP HTTP/M.m]; without a version it is
 * HTTP/0.9.  Anything after the version is ignored. */
static int request_line(term *t, const char *p, size_t n)
{
    const char *meth = p, *uri;
    size_t ml, ul, k;
    int major = 0, minor = 9;

    while (n && !is_tspecial((unsigned char)*p)) { p++; n--; }
    ml = (size_t)(p - meth);
    if (n == 0 || ml == 0 || !is_sp((unsigned char)*p)) return -1;
    skip_sp(&p, &n);
    uri = p;
    while (n && !is_sp((unsigned char)*p)) { p++; n--; }
    ul = (size_t)(p - uri);
    if (ul == 0) return -1;
    skip_sp(&p, &n);
    if (n != 0) {
        if (n < 8 || !read_version(&p, &n, &major, &minor)) return -1;
    }
    t_atom(t, am_http_request);
    for (k = 0; k < N_METH; k++)
        if (strlen(meth_names[k]) == ml && memcmp(meth_names[k], meth, ml) == 0)
            break;
    if (k < N_METH) t_atom(t, meth_atoms[k]);
    else t_str(t, meth, ml);
    uri_term(t, uri, ul);
    t_int(t, major);
    t_int(t, minor);
    t_tuple(t, 2);
    t_tuple(t, 4);
    return 0;
}

/* Header: Name ":" *SP Value, or the empty line that ends the headers.
 * The name is normalised to "Word-Word" form when it is at most
 * GS_HTTP_MAX_NAME bytes, and known names become atoms. */
static int header_line(term *t, int *state, const char *line, size_t n,
                       gs_parse_buf *buf)
{
    const char *p = line, *name = buf->name;
    size_t nl = 0, k;
    int up = 1;

    if (n == 0) {
        *state = 0;                 /* the next line starts a message */
        t_atom(t, am_http_eoh);
        return 0;
    }
    while (!is_tspecial((unsigned char)*p)) {
        if (nl < GS_HTTP_MAX_NAME) {
            int c = (unsigned char)*p;
            if (up) {
                if (is_lower(c)) c -= 'a' - 'A';
                up = 0;
            } else if (is_upper(c)) {
                c += 'a' - 'A';
            } else if (c == '-') {
                up = 1;
            }
            buf->name[nl] = (char)c;
        }
        nl++;
        p++;
        if (--n == 0) return -1;
    }
    if (*p != ':') return -1;
    p++;
    n--;
    skip_sp(&p, &n);

    t_atom(t, am_http_header);
    if (nl > GS_HTTP_MAX_NAME) {
        name = line;                /* too long: as sent, no atom */
        k = N_HDR;
    } else {
        for (k = 0; k < N_HDR; k++)
            if (strlen(hdr_names[k]) == nl && memcmp(hdr_names[k], name, nl) == 0)
                break;
    }
    if (k < N_HDR) {
        t_int(t, (int)k + 1);
        t_atom(t, hdr_atoms[k]);
    } else {
        t_int(t, 0);
        t_str(t, name, nl);
    }
    if (unmodified_field)
        t_str(t, line, nl);
    else
        t_atom(t, am_undefined);
    t_str(t, p, n);
    t_tuple(t, 5);
    return 0;
}

static void http_term(term *t, int htype, int *state, const char *pkt,
                      size_t len, gs_parse_buf *buf)
{
    size_t n = len;
    int rc;

    /* the line without its CRLF (or bare LF) */
    if (n >= 2 && pkt[n - 2] == '\r') n -= 2;
    else if (n >= 1 && pkt[n - 1] == '\n') n -= 1;

    if (htype == GS_PB_HTTPH || htype == GS_PB_HTTPH_BIN) *state = 1;
    if (*state == 0) {
        if (n >= 5 && strncmp(pkt, "HTTP/", 5) == 0)
            rc = status_line(t, pkt, n);
        else
            rc = request_line(t, pkt, n);
        if (rc == 0) *state = 1;
    } else {
        rc = header_line(t, state, pkt, n, buf);
    }
    if (rc < 0) {
        t->i = 0;                   /* drop what the failed parse built */
        t_atom(t, am_http_error);
        t_str(t, pkt, len);
        t_tuple(t, 2);
    }
}

/* {ssl_tls, S, Type, {Major, Minor}, Fragment}.  An SSLv2 client hello
 * is given as <<1, Length:24, Hello>>, as gen_tcp does. */
static void ssl_tls_term(term *t, const char *pkt, size_t len,
                         ErlDrvTermData port, gs_parse_buf *buf)
{
    const unsigned char *u = (const unsigned char *)pkt;
    const char *body = pkt + 5;
    size_t blen = len - 5;
    int type = u[0], major = u[1], minor = u[2];

    if ((u[0] & 0x80) && u[2] == 1) {
        size_t hl = len - 3;
        type = 22;
        major = u[3];
        minor = u[4];
        buf->heap = driver_alloc(hl + 4);
        if (buf->heap) {
            buf->heap[0] = 1;
            buf->heap[1] = (char)(hl >> 16);
            buf->heap[2] = (char)(hl >> 8);
            buf->heap[3] = (char)hl;
            memcpy(buf->heap + 4, pkt + 3, hl);
            body = buf->heap;
            blen = hl + 4;
        } else {
            body = pkt + 3;         /* out of memory: the bare hello */
            blen = hl;
        }
    }
    t_atom(t, am_ssl_tls);
    t->spec[t->i++] = ERL_DRV_PORT;
    t->spec[t->i++] = port;
    t_int(t, type);
    t_int(t, major);
    t_int(t, minor);
    t_tuple(t, 2);
    t->spec[t->i++] = ERL_DRV_BUF2BINARY;
    t->spec[t->i++] = (ErlDrvTermData)body;
    t->spec[t->i++] = (ErlDrvTermData)blen;
    t_tuple(t, 5);
}

int gs_parse_term(int htype, int *http_state, const char *pkt, size_t len,
                  ErlDrvTermData port, gs_parse_buf *buf,
                  ErlDrvTermData *spec)
{
    term t;
    t.spec = spec;
    t.i = 0;
    t.bin = htype == GS_PB_HTTP_BIN || htype == GS_PB_HTTPH_BIN;
    buf->heap = NULL;
    if (htype == GS_PB_SSL_TLS)
        ssl_tls_term(&t, pkt, len, port, buf);
    else
        http_term(&t, htype, http_state, pkt, len, buf);
    return t.i;
}
