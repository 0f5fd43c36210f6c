/* gs_closer.h -- closing socket fds without blocking the caller.
 *
 * close() of a socket blocks for up to its linger time when SO_LINGER is
 * on with a timeout (Linux waits in close() for the queued data and the
 * FIN to be acknowledged, non-blocking fd or not).  gs_close_fd closes
 * every other fd at once and hands those to a thread of the driver's own,
 * so neither a pollset mutex nor a scheduler thread ever waits for a
 * peer (ARCHITECTURE rule 12).  The fd number stays reserved until the
 * close returns, so no new socket can get it meanwhile.
 */
#ifndef GS_CLOSER_H
#define GS_CLOSER_H

int  gs_closer_init(void);      /* driver init: 0, or -1 */
void gs_closer_finish(void);    /* driver finish: joins the thread */

/* Closes fd now, or on the closer thread if close() could block. */
void gs_close_fd(int fd);

#endif
