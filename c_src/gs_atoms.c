/* gs_atoms.c -- atoms used in messages, made once at driver init. */
#include "gs_atoms.h"

ErlDrvTermData am_gs, am_ok, am_error, am_tcp, am_tcp_closed,
    am_tcp_error, am_tcp_passive, am_empty_out_q, am_gs_poll, am_true, am_false, am_http, am_data, am_gs_exit,
    am_sendfile;

void gs_atoms_init(void)
{
    am_gs = driver_mk_atom("$gen_socket");
    am_ok = driver_mk_atom("ok");
    am_error = driver_mk_atom("error");
    am_tcp = driver_mk_atom("tcp");
    am_tcp_closed = driver_mk_atom("tcp_closed");
    am_tcp_error = driver_mk_atom("tcp_error");
    am_tcp_passive = driver_mk_atom("tcp_passive");
    am_empty_out_q = driver_mk_atom("empty_out_q");
    am_gs_poll = driver_mk_atom("$gen_socket_poll");
    am_true = driver_mk_atom("true");
    am_false = driver_mk_atom("false");
    am_http = driver_mk_atom("http");
    am_data = driver_mk_atom("data");
    am_gs_exit = driver_mk_atom("$gen_socket_exit");
    am_sendfile = driver_mk_atom("sendfile");
}
