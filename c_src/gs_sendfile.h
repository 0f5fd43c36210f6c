/* gs_sendfile.h -- file:sendfile onto a socket: inet_drv's
 * TCP_REQ_SENDFILE answered with sendfile(2).
 *
 * prim_inet:sendfile/4 sends <<FileFd:native-int, Offset:64, Length:64>>
 * (the raw file's fd as prim_file's handle gives it) and, on an ok reply,
 * waits for {sendfile, S, {ok, SentLow, SentHigh}} or
 * {sendfile, S, {error, Reason}}.  The file goes out after the bytes
 * already queued and before anything sent after the request: while a file
 * is in progress every send queues behind it.
 */
#ifndef GS_SENDFILE_H
#define GS_SENDFILE_H

#include "gs_socket.h"

/* Bytes one socket sends of a file per dispatch callback (rule 11). */
#define GS_SENDFILE_ROUND (1024 * 1024)

/* The request, in the socket port's control callback (pollset mutex
 * held).  GS_OK: taken (the result message is sent now or later);
 * GS_ERR: *err for the control reply. */
int gs_sendfile_start(gs_socket *s, ErlDrvTermData caller, const char *buf,
                      size_t len, int *err);

/* Dispatch (on_writable): goes on with the file.  1 while it is still in
 * progress (the queue behind it waits), 0 when none is (any more). */
int gs_sendfile_serve(gs_socket *s, ErlDrvTermData from);

/* The connection went down under a file in progress: {error, closed} to
 * its sender (if from != 0), and the file's fd closed. */
void gs_sendfile_abort(gs_socket *s, ErlDrvTermData from);

#endif
