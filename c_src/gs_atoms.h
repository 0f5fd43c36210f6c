/* gs_atoms.h -- atoms used in messages, made once at driver init. */
#ifndef GS_ATOMS_H
#define GS_ATOMS_H

#include "gs_compat.h"

extern ErlDrvTermData am_gs, am_ok, am_error, am_tcp, am_tcp_closed,
    am_tcp_error, am_tcp_passive, am_empty_out_q, am_gs_poll, am_true, am_false, am_http, am_data, am_gs_exit,
    am_sendfile;

void gs_atoms_init(void);

#endif
