%% Requests of gen_socket_drv (c_src/gs_drv.c) that inet_drv does not have.
-define(GS_REQ_POLLER_START, 100).
-define(GS_REQ_POLL,         101).
-define(GS_REQ_HANDBACK,     102).
-define(GS_REQ_INFO,         103).
-define(GS_REQ_SET_POLICY,   104).
-define(GS_REQ_ORPHANS,      105).
-define(GS_REQ_OPEN,         110).
-define(GS_REQ_BIND,         111).
-define(GS_REQ_LISTEN,       112).
-define(GS_REQ_CONNECT,      113).
-define(GS_REQ_ACCEPT,       114).
-define(GS_REQ_RECV,         115).
-define(GS_REQ_SEND,         116).
-define(GS_REQ_CANCEL,       117).
-define(GS_REQ_SHUTDOWN,     118).
-define(GS_REQ_SOCKINFO,     119).
-define(GS_REQ_ATTACH,       120).
-define(GS_REQ_EXIT,         121).

%% Reply status bytes
-define(GS_REP_ERROR, 0).
-define(GS_REP_OK,    1).
-define(GS_REP_WAIT,  2).
-define(GS_REP_SENT,  3).
-define(GS_REP_LIST,  4).
-define(GS_REP_HEADER, 5).

-define(GS_DRIVER, "gen_socket_drv").
-define(GS_TAG, '$gen_socket').
-define(GS_POLL_TAG, '$gen_socket_poll').
-define(GS_EXIT_TAG, '$gen_socket_exit').
