/* gs_inet.h -- inet_drv's control protocol, as prim_inet speaks it.
 *
 * prim_inet (and through it inet:setopts/getopts/peername/sockname/
 * getstat and gen_tcp:close/controlling_process) talks to a TCP port with
 * inet_drv's requests and byte encodings; answering them makes the VM's
 * own code gen_socket's option codec, in every release.
 */
#ifndef GS_INET_H
#define GS_INET_H

#include "gs_socket.h"

#define INET_REQ_PEER       4
#define INET_REQ_NAME       5
#define INET_REQ_SETOPTS    7
#define INET_REQ_GETOPTS    8
#define INET_REQ_GETIX      9
#define INET_REQ_GETSTAT    11
#define INET_REQ_GETFD      14
#define INET_REQ_GETTYPE    15
#define INET_REQ_GETSTATUS  16
#define INET_REQ_SUBSCRIBE  24
#define TCP_REQ_UNRECV      43
#define TCP_REQ_SENDFILE    45

#define INET_REP_ERROR 0
#define INET_REP_OK    1

/* All with the socket's pollset mutex held (options are read by
 * dispatch).  Replies are lists in *rbuf (driver_alloc'ed if larger than
 * rsize); the return value is the reply length. */
ErlDrvSSizeT gs_inet_control(gs_socket *s, unsigned cmd, const char *buf,
                             ErlDrvSizeT len, char **rbuf,
                             ErlDrvSizeT rsize, ErlDrvTermData caller);

/* An [INET_REP_ERROR | "posix"] reply. */
ErlDrvSSizeT gs_inet_error(int err, char **rbuf, ErlDrvSizeT rsize);

#endif
