%% OTP ssl over gen_socket, with
%% {cb_info, {gen_socket, tcp, tcp_closed, tcp_error, tcp_passive}}:
%% client (ssl:connect/3,4, and ssl:connect/2 on a connected gen_socket
%% socket) against `openssl s_server', server (ssl:listen/2 +
%% ssl:transport_accept + ssl:handshake, and ssl:handshake/3 on an
%% accepted gen_socket socket) against `openssl s_client', TLS 1.2 and
%% 1.3, passive and active, 10 MiB each way compared byte for byte;
%% gen_socket <-> gen_socket; and the ssl API around a connection, side
%% by side with gen_tcp as the transport.
%%
%% The openssl peers are Debian's `openssl' binary, run under
%% `timeout' (so they end by themselves) with a certificate the suite
%% makes with `openssl req' in a private temporary directory.
-module(gen_socket_ssl_tests).

-include_lib("eunit/include/eunit.hrl").

-define(SIZE, (10 * 1024 * 1024)).
-define(CHUNK, 65536).
-define(PEER_SECONDS, "120").

cb(Mod) -> {cb_info, {Mod, tcp, tcp_closed, tcp_error, tcp_passive}}.

%%% ---- fixture -------------------------------------------------------------

ssl_test_() ->
    {setup, fun setup/0, fun cleanup/1,
     fun(Dir) ->
             [{timeout, 120, {T, fun() -> F(Dir) end}} || {T, F} <- cases()]
     end}.

cases() ->
    [{lists:flatten(io_lib:format("~p ~p ~p vs s_server", [Api, V, M])),
      fun(Dir) -> client_vs_s_server(Dir, Api, V, M) end}
     || {Api, V, M} <- matrix([connect3, connect4, upgrade])] ++
    [{lists:flatten(io_lib:format("~p ~p ~p vs s_client", [Api, V, M])),
      fun(Dir) -> server_vs_s_client(Dir, Api, V, M) end}
     || {Api, V, M} <- matrix([listen, upgrade])] ++
    [{lists:flatten(io_lib:format("gen_socket <-> gen_socket ~p ~p", [V, M])),
      fun(Dir) -> gen_socket_both_ends(Dir, V, M) end}
     || {_, V, M} <- matrix([x])] ++
    [{"ssl API around a connection, side by side with gen_tcp ("
      ++ atom_to_list(V) ++ ")",
      fun(Dir) -> side_by_side(Dir, V) end} || V <- ['tlsv1.2', 'tlsv1.3']] ++
    [{"ssl failures, side by side with gen_tcp (" ++ atom_to_list(V) ++ ")",
      fun(Dir) -> failures_side_by_side(Dir, V) end} || V <- ['tlsv1.2', 'tlsv1.3']].

matrix(Apis) ->
    [{A, V, M} || A <- Apis, V <- ['tlsv1.2', 'tlsv1.3'], M <- [passive, active]].

setup() ->
    {ok, _} = application:ensure_all_started(ssl),
    gs_test_lib:start(),
    Dir = lists:flatten(io_lib:format("/tmp/gen_socket_ssl_~s_~p",
                                      [os:getpid(), erlang:phash2(make_ref())])),
    ok = file:make_dir(Dir),
    Cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost"
        " -keyout " ++ Dir ++ "/key.pem -out " ++ Dir ++ "/cert.pem"
        " >" ++ Dir ++ "/req.log 2>&1; echo $?",
    "0\n" = os:cmd(Cmd),
    %% a CA that did not sign cert.pem
    Other = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other"
        " -keyout " ++ Dir ++ "/other-key.pem -out " ++ Dir ++ "/other.pem"
        " >>" ++ Dir ++ "/req.log 2>&1; echo $?",
    "0\n" = os:cmd(Other),
    Dir.

cleanup(Dir) ->
    [file:delete(F) || F <- filelib:wildcard(Dir ++ "/*")],
    file:del_dir(Dir).

server_opts(Dir, V) ->
    [{certfile, Dir ++ "/cert.pem"}, {keyfile, Dir ++ "/key.pem"},
     {versions, [V]}].

client_opts(V) ->
    [{verify, verify_none}, {versions, [V]}].

%%% ---- gen_socket client, openssl s_server ----------------------------------

client_vs_s_server(Dir, Api, V, Mode) ->
    {Port, Peer} = s_server(Dir, V, 3),
    Opts = [cb(gen_socket), binary, {active, active(Mode)} | client_opts(V)],
    {ok, S} = case Api of
                  connect3 -> ssl:connect("localhost", Port, Opts);
                  connect4 -> ssl:connect({127, 0, 0, 1}, Port, Opts, 10000);
                  upgrade ->
                      {ok, T} = gen_socket:connect({127, 0, 0, 1}, Port,
                                                   [binary, {active, false}]),
                      ssl:connect(T, Opts)
              end,
    check_session(S, V),
    ?assertEqual(ok_both_ways, exchange(S, Mode, Peer)),
    ok = ssl:close(S),
    ?assertEqual({exit_status, 0}, peer_exit(Peer)).

%%% ---- gen_socket server, openssl s_client -----------------------------------

server_vs_s_client(Dir, Api, V, Mode) ->
    {S, Peer} =
        case Api of
            listen ->
                {ok, L} = ssl:listen(0, [cb(gen_socket), binary, {active, false},
                                         {reuseaddr, true} | server_opts(Dir, V)]),
                {ok, {_, Port}} = ssl:sockname(L),
                P = s_client(Dir, Port, V),
                {ok, T} = ssl:transport_accept(L, 10000),
                {ok, S0} = ssl:handshake(T, 10000),
                ok = ssl:setopts(S0, [{active, active(Mode)}]),
                ok = ssl:close(L),
                {S0, P};
            upgrade ->
                {ok, L} = gen_socket:listen(0, [binary, {active, false}]),
                {ok, Port} = inet:port(L),
                P = s_client(Dir, Port, V),
                {ok, A} = gen_socket:accept(L, 10000),
                ok = gen_socket:close(L),
                {ok, S0} = ssl:handshake(A, [cb(gen_socket), {mode, binary},
                                             {active, active(Mode)}
                                             | server_opts(Dir, V)], 10000),
                {S0, P}
        end,
    check_session(S, V),
    ?assertEqual(ok_both_ways, exchange(S, Mode, Peer)),
    ok = ssl:close(S),
    ?assertEqual({exit_status, 0}, peer_exit(Peer)).

s_client(Dir, Port, V) ->
    openssl(Dir, ["s_client", "-quiet", "-nocommands",
                  "-connect", "127.0.0.1:" ++ integer_to_list(Port), vsn_flag(V)]).

%% The session is the version asked for, and its transport is a
%% gen_socket port (not a gen_tcp one the test did not mean).
check_session(S, V) ->
    ?assertEqual({ok, [{protocol, V}]}, ssl:connection_information(S, [protocol])),
    {sslsocket, {gen_socket, Port, _, _}, _} = S,
    ?assertEqual({name, "gen_socket_drv"}, erlang:port_info(Port, name)).

%% 10 MiB each way at once: a process sends ours over TLS and another
%% feeds the peer's stdin (openssl sends it to us); we receive both
%% streams (the TLS one from ssl, the peer's from its stdout) and
%% compare them with what was sent.
exchange(S, Mode, Peer) ->
    Up = crypto:strong_rand_bytes(?SIZE),
    Down = crypto:strong_rand_bytes(?SIZE),
    Self = self(),
    Sender = spawn_link(fun() -> Self ! {sent, self(), send_chunks(fun(B) -> ssl:send(S, B) end, Up)} end),
    Feeder = spawn_link(fun() -> Self ! {sent, self(), send_chunks(fun(B) -> true = port_command(Peer, B), ok end, Down)} end),
    {FromTls, FromPeer} = receive_both(S, Mode, Peer, [], 0, [], 0),
    receive {sent, Sender, R1} -> ok = R1 end,
    receive {sent, Feeder, R2} -> ok = R2 end,
    case {iolist_to_binary(FromTls) =:= Down, iolist_to_binary(FromPeer) =:= Up} of
        {true, true} -> ok_both_ways;
        Other -> {mismatch, Other, iolist_size(FromTls), iolist_size(FromPeer)}
    end.

send_chunks(Send, <<B:?CHUNK/binary, Rest/binary>>) ->
    case Send(B) of
        ok -> send_chunks(Send, Rest);
        Error -> Error
    end;
send_chunks(Send, B) ->
    Send(B).

%% Until both streams have ?SIZE bytes.
receive_both(_S, _Mode, _Peer, T, ?SIZE, P, ?SIZE) ->
    {lists:reverse(T), lists:reverse(P)};
receive_both(S, passive, Peer, T, NT, P, NP) when NT < ?SIZE ->
    case ssl:recv(S, 0, 30000) of
        {ok, D} -> receive_both(S, passive, Peer, [D | T], NT + byte_size(D), P, NP);
        Error -> erlang:error({ssl_recv, Error, NT})
    end;
receive_both(S, Mode, Peer, T, NT, P, NP) ->
    receive
        {ssl, S, D} when Mode =:= active ->
            receive_both(S, Mode, Peer, [D | T], NT + byte_size(D), P, NP);
        {Peer, {data, D}} ->
            receive_both(S, Mode, Peer, T, NT, [D | P], NP + byte_size(D));
        {Peer, {exit_status, St}} ->
            erlang:error({peer_exited, St, NT, NP});
        {ssl_closed, S} ->
            erlang:error({ssl_closed, NT, NP});
        {ssl_error, S, E} ->
            erlang:error({ssl_error, E, NT, NP})
    after 30000 ->
            erlang:error({stalled, NT, NP})
    end.

active(passive) -> false;
active(active) -> true.

vsn_flag('tlsv1.2') -> "-tls1_2";
vsn_flag('tlsv1.3') -> "-tls1_3".

%%% ---- gen_socket on both ends ------------------------------------------------

gen_socket_both_ends(Dir, V, Mode) ->
    {ok, L} = ssl:listen(0, [cb(gen_socket), binary, {active, false},
                             {reuseaddr, true} | server_opts(Dir, V)]),
    {ok, {_, Port}} = ssl:sockname(L),
    Up = crypto:strong_rand_bytes(?SIZE),
    Down = crypto:strong_rand_bytes(?SIZE),
    Self = self(),
    Client = spawn_link(
               fun() ->
                       {ok, C} = ssl:connect({127, 0, 0, 1}, Port,
                                             [cb(gen_socket), binary,
                                              {active, active(Mode)} | client_opts(V)],
                                             10000),
                       check_session(C, V),
                       Sender = spawn_link(fun() -> Self ! {up_sent, send_chunks(fun(B) -> ssl:send(C, B) end, Up)} end),
                       Got = recv_all(C, Mode, ?SIZE, []),
                       Self ! {client_got, Got =:= Down, byte_size(Got)},
                       unlink(Sender),
                       receive close -> ok = ssl:close(C) end
               end),
    {ok, T} = ssl:transport_accept(L, 10000),
    {ok, S} = ssl:handshake(T, 10000),
    check_session(S, V),
    ok = ssl:setopts(S, [{active, active(Mode)}]),
    spawn_link(fun() -> Self ! {down_sent, send_chunks(fun(B) -> ssl:send(S, B) end, Down)} end),
    Got = recv_all(S, Mode, ?SIZE, []),
    ?assertEqual({true, ?SIZE}, {Got =:= Up, byte_size(Got)}),
    ?assertEqual({client_got, true, ?SIZE}, receive {client_got, _, _} = CG -> CG after 60000 -> timeout end),
    receive {up_sent, R1} -> ?assertEqual(ok, R1) end,
    receive {down_sent, R2} -> ?assertEqual(ok, R2) end,
    MRef = monitor(process, Client),
    Client ! close,
    %% the client's close reaches us as the end of the stream
    ?assertEqual(closed, await_closed(S, Mode)),
    receive {'DOWN', MRef, process, Client, normal} -> ok end,
    ok = ssl:close(S),
    ok = ssl:close(L).

recv_all(_S, _Mode, 0, Acc) ->
    iolist_to_binary(lists:reverse(Acc));
recv_all(S, passive, N, Acc) ->
    {ok, D} = ssl:recv(S, 0, 30000),
    recv_all(S, passive, N - byte_size(D), [D | Acc]);
recv_all(S, active, N, Acc) ->
    receive
        {ssl, S, D} -> recv_all(S, active, N - byte_size(D), [D | Acc]);
        {ssl_closed, S} -> erlang:error({ssl_closed, N})
    after 30000 -> erlang:error({stalled, N})
    end.

await_closed(S, passive) ->
    case ssl:recv(S, 0, 10000) of
        {error, closed} -> closed;
        Other -> Other
    end;
await_closed(S, active) ->
    receive
        {ssl_closed, S} -> closed;
        {ssl, S, D} -> {data, D};
        {ssl_error, S, E} -> {ssl_error, E}
    after 10000 -> timeout
    end.

%%% ---- side by side with gen_tcp -------------------------------------------

%% The ssl calls a user makes around a connection, each of which reaches
%% the transport module (listen, accept, port, getopts/setopts on the
%% listen and the connected socket, peername/sockname, getstat,
%% controlling_process, shutdown, close and the listener monitor of
%% ssl's trackers), on gen_tcp and on gen_socket: same terms.
side_by_side(Dir, V) ->
    {T, S} = gs_test_lib:same(fun(Mod) -> api_scenario(Mod, Dir, V) end),
    %% the differing steps first (readable), then the whole terms
    ?assertEqual([], [{K, A, B} || {{K, A}, {K, B}} <- lists:zip(T, S), A =/= B]),
    ?assertEqual(T, S).

api_scenario(Mod, Dir, V) ->
    {ok, L} = ssl:listen(0, [cb(Mod), binary, {active, false}, {reuseaddr, true},
                             {ip, {127, 0, 0, 1}} | server_opts(Dir, V)]),
    {ok, {LIP, Port}} = ssl:sockname(L),
    LOpts = ssl:getopts(L, [active, mode, packet, reuseaddr, nodelay]),
    LSet = ssl:setopts(L, [{nodelay, true}, {active, once}]),
    LOpts2 = ssl:getopts(L, [active, nodelay]),
    LSet2 = ssl:setopts(L, [{active, false}]),
    LRecv = ssl:recv(L, 0, 100),
    Self = self(),
    Client = spawn_link(
               fun() ->
                       {ok, C} = ssl:connect({127, 0, 0, 1}, Port,
                                             [cb(Mod), binary, {active, false}
                                              | client_opts(V)], 10000),
                       Self ! {client, ssl:sockname(C)},
                       P1 = ssl:send(C, <<"ping">>),
                       R1 = ssl:recv(C, 4, 5000),
                       P2 = ssl:shutdown(C, write),
                       R2 = ssl:recv(C, 0, 5000),
                       Self ! {client_done, [P1, R1, P2, R2]},
                       receive close -> ssl:close(C) end
               end),
    {ok, TS} = ssl:transport_accept(L, 10000),
    {ok, S} = ssl:handshake(TS, 10000),
    {ok, {PeerIP, PeerPort}} = ssl:peername(S),
    CName = receive {client, N} -> N end,
    SOpts = ssl:getopts(S, [active, mode, packet, nodelay, keepalive]),
    SSet = ssl:setopts(S, [{keepalive, true}, {nodelay, false}]),
    SOpts2 = ssl:getopts(S, [keepalive, nodelay]),
    {ok, Stats} = ssl:getstat(S, [recv_oct, send_oct, recv_cnt, send_cnt]),
    {ok, AllStats} = ssl:getstat(S),
    %% a new owner gets the active data, then hands the socket back
    %% (the connection ends with its owner)
    Owner = spawn_link(fun() ->
                               receive go -> ok end,
                               ok = ssl:setopts(S, [{active, once}]),
                               Got = receive {ssl, S, D} -> D after 5000 -> timeout end,
                               Self ! {owner_got, Got, ssl:controlling_process(S, Self)}
                       end),
    CP = ssl:controlling_process(S, Owner),
    Owner ! go,
    OwnerGot = receive {owner_got, G, CPBack} -> {G, CPBack} end,
    Send = ssl:send(S, <<"pong">>),
    EndOfStream = ssl:recv(S, 0, 5000),
    ClientDone = receive {client_done, CD} -> CD after 10000 -> timeout end,
    Trackers = trackers(L),
    MRefs = [monitor(process, P) || P <- Trackers],
    LClose = ssl:close(L),
    TrackersDown = [receive {'DOWN', M, process, _, R} -> R after 5000 -> alive end
                    || M <- MRefs],
    AfterClose = ssl:transport_accept(L, 100),
    Client ! close,
    Close = ssl:close(S),
    %% a second listen socket: handed to another owner and shut down
    {ok, L2} = ssl:listen(0, [cb(Mod), {ip, {127, 0, 0, 1}} | server_opts(Dir, V)]),
    LCP = ssl:controlling_process(L2, spawn_link(fun() -> receive stop -> ok end end)),
    LStat = [K || {K, _} <- element(2, ssl:getstat(L2, [recv_oct, send_oct]))],
    LShut = ssl:shutdown(L2, read_write),
    LClose2 = ssl:close(L2),
    [{listen_ip, LIP}, {listen_getopts, LOpts}, {listen_setopts, LSet},
     {listen_getopts2, LOpts2}, {listen_setopts2, LSet2}, {listen_recv, LRecv},
     {peer_ip, PeerIP}, {names_agree, CName =:= {ok, {PeerIP, PeerPort}}},
     {getopts, SOpts}, {setopts, SSet}, {getopts2, SOpts2},
     {getstat_keys, [K || {K, X} <- Stats, is_integer(X)]},
     {getstat_all_keys, lists:sort([K || {K, _} <- AllStats])},
     {controlling_process, CP}, {new_owner_got, OwnerGot}, {send, Send},
     {end_of_stream, EndOfStream}, {client, ClientDone},
     {trackers, length(Trackers)}, {listen_close, LClose},
     {trackers_down, TrackersDown}, {accept_after_close, AfterClose},
     {close, Close}, {listen_controlling_process, LCP}, {listen_getstat, LStat},
     {listen_shutdown, LShut}, {listen_close2, LClose2}].

%% Handshakes that fail, and timeouts, through the transport.
failures_side_by_side(Dir, V) ->
    {T, S} = gs_test_lib:same(fun(Mod) -> failures_scenario(Mod, Dir, V) end),
    ?assertEqual([], [{K, A, B} || {{K, A}, {K, B}} <- lists:zip(T, S), A =/= B]),
    ?assertEqual(T, S).

failures_scenario(Mod, Dir, V) ->
    Self = self(),
    %% a TCP server that accepts and closes at once
    {ok, PL} = Mod:listen(0, [binary, {active, false}, {ip, {127, 0, 0, 1}}]),
    {ok, PPort} = inet:port(PL),
    spawn_link(fun() -> {ok, A} = Mod:accept(PL, 5000), Mod:close(A) end),
    ClosedByPeer = ssl:connect({127, 0, 0, 1}, PPort, [cb(Mod), quiet() | client_opts(V)], 5000),
    Mod:close(PL),
    {ok, L} = ssl:listen(0, [cb(Mod), binary, {active, false}, {reuseaddr, true},
                             {ip, {127, 0, 0, 1}}, quiet() | server_opts(Dir, V)]),
    {ok, {_, Port}} = ssl:sockname(L),
    AcceptTimeout = ssl:transport_accept(L, 50),
    %% a silent client: the handshake times out
    {ok, Silent} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    {ok, T1} = ssl:transport_accept(L, 5000),
    HandshakeTimeout = ssl:handshake(T1, 200),
    gen_tcp:close(Silent),
    %% a client that speaks HTTP: the server answers with an alert
    {ok, Http} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    ok = gen_tcp:send(Http, <<"GET / HTTP/1.0\r\n\r\n">>),
    {ok, T2} = ssl:transport_accept(L, 5000),
    NotTls = ssl:handshake(T2, 5000),
    HttpGot = gs_stack_lib:read_all(Http, []),
    gen_tcp:close(Http),
    %% a client that does not trust the certificate: both ends fail
    spawn_link(fun() ->
                       R = ssl:connect({127, 0, 0, 1}, Port,
                                       [cb(Mod), quiet(), {verify, verify_peer},
                                        {cacertfile, Dir ++ "/other.pem"},
                                        {versions, [V]}], 5000),
                       Self ! {untrusting, R}
               end),
    {ok, T3} = ssl:transport_accept(L, 5000),
    ServerSide = ssl:handshake(T3, 5000),
    ClientSide = receive {untrusting, CR} -> CR after 10000 -> timeout end,
    ok = ssl:close(L),
    [{closed_by_peer, ClosedByPeer}, {accept_timeout, AcceptTimeout},
     {handshake_timeout, HandshakeTimeout}, {not_tls, NotTls},
     {alert_bytes_to_http_client, HttpGot},
     {untrusted_server_side, ServerSide}, {untrusted_client_side, ClientSide}].

%% The alerts these cases provoke are expected: not logged.
quiet() -> {log_level, none}.

%% The pids of ssl's listen trackers (each monitors the transport's
%% listen socket and must end when it closes).
trackers(T) when is_tuple(T) -> trackers(tuple_to_list(T));
trackers([{option_tracker, P} | T]) when is_pid(P) -> [P | trackers(T)];
trackers([{session_id_tracker, P} | T]) when is_pid(P) -> [P | trackers(T)];
trackers([H | T]) -> trackers(H) ++ trackers(T);
trackers(_) -> [].

%%% ---- openssl peers --------------------------------------------------------

%% openssl under `timeout' (it ends by itself whatever happens to us),
%% stdin and stdout to us, stderr to a log in the suite's directory.
openssl(Dir, Args) ->
    Cmd = "exec timeout " ++ ?PEER_SECONDS ++ " openssl " ++ string:join(Args, " ")
        ++ " 2>>" ++ Dir ++ "/openssl.log",
    open_port({spawn_executable, "/bin/sh"},
              [{args, ["-c", Cmd]}, binary, exit_status, use_stdio]).

%% The peer's exit status; a peer still running 30 s after its
%% connection closed is killed (by its own OS pid) and reported.
peer_exit(Peer) ->
    receive
        {Peer, {exit_status, St}} -> {exit_status, St}
    after 30000 ->
            kill(Peer),
            still_running_after_close
    end.

free_port() ->
    {ok, L} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(L),
    ok = gen_tcp:close(L),
    Port.

%% An s_server on a free loopback port, listening.  The port is free
%% when chosen; if something takes it before s_server binds, s_server
%% exits and another port is tried.
s_server(Dir, V, Tries) ->
    Port = free_port(),
    Peer = openssl(Dir, ["s_server", "-quiet", "-naccept", "1",
                         "-accept", "127.0.0.1:" ++ integer_to_list(Port),
                         "-cert", Dir ++ "/cert.pem", "-key", Dir ++ "/key.pem",
                         vsn_flag(V)]),
    case await_listen(Peer, Port, 250) of
        ok -> {Port, Peer};
        exited when Tries > 1 -> s_server(Dir, V, Tries - 1);
        Error -> erlang:error({s_server, Error})
    end.

%% `openssl s_server -quiet' prints nothing when it listens (its ACCEPT
%% line goes to a null BIO) and a probing connect would use up its one
%% accept, so the listening state is read from /proc/net/tcp, every
%% 20 ms until it shows (or the peer exits).
await_listen(Peer, _Port, 0) ->
    kill(Peer),
    not_listening;
await_listen(Peer, Port, N) ->
    {ok, Tab} = file:read_file("/proc/net/tcp"),
    Key = iolist_to_binary(io_lib:format(":~4.16.0B 00000000:0000 0A", [Port])),
    case binary:match(Tab, Key) of
        nomatch ->
            receive
                {Peer, {exit_status, _}} -> exited
            after 20 ->
                    await_listen(Peer, Port, N - 1)
            end;
        _ ->
            ok
    end.

kill(Peer) ->
    case erlang:port_info(Peer, os_pid) of
        {os_pid, Pid} -> os:cmd("kill " ++ integer_to_list(Pid));
        undefined -> ok
    end.
