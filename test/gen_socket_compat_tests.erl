%% Side by side: every scenario runs on gen_tcp and on gen_socket, with
%% the options given explicitly, and the result terms must be equal.
-module(gen_socket_compat_tests).
-include_lib("eunit/include/eunit.hrl").

-import(gs_test_lib, [pair/2, pair/3, recv_exact/3]).

-export([connect_eaddrinuse/1,
         send_timeout_blocks/1,
         getstat_values/1,
         unrecv/1, ipv6_loopback/1,
         show_econnreset_active/1, show_econnreset_passive/1, port_option/1,
         accepted_inherits/1, many_acceptors/1,
         shutdown_write_half_open/1, after_eof_active/1, msgq_watermarks/1, recbuf_bumps_buffer/1,
         echo_binary/1, echo_list/1, recv_length/1, recv_zero_after_partial/1, recv_timeout/1, recv_after_peer_close/1, recv_closed_socket/1, send_iodata/1, send_bad_iodata/1, send_after_close/1, send_after_peer_gone/1, connect_refused/1, listen_eaddrinuse/1, listen_badarg/1, connect_badarg/1, connect_hostname/1, connect_timeout/1, accept_timeout/1, accept_closed_listener/1, accept_pending_then_close/1, active_true/1, active_once/1, active_n/1, active_n_negative/1, active_closed/1, active_list_mode/1, passive_then_active_buffered/1, controlling_process_moves_messages/1, controlling_process_not_owner/1, controlling_process_badarg/1, setopts_bad/1, getopts_values/1, getopts_listen/1, getopts_bad/1, setopts_first_wins/1, inet_setopts_once/1, peername_sockname/1, peername_listen/1, shutdown_write/1, shutdown_badarg/1, recv_concurrent/1, close_during_recv/1, owner_death_closes/1, peer_reset_passive/1, peer_reset_active/1, gen_tcp_funs_on_socket/1, options_given_twice/1, getstat_keys/1, recv_bad_args/1, large_transfer/1, reuseaddr_opt/1, nodelay_keepalive/1, buffers/1, send_timeout_opt/1]).


-define(SAME(Fun), begin {__T, __S} = gs_test_lib:same(Fun),
                         ?assertEqual(__T, __S) end).

-define(P, [binary, {active, false}]).

compat_test_() ->
    {setup, fun gs_test_lib:start/0,
     [{atom_to_list(N),
       {timeout, 60, fun() -> ?SAME(fun(Mod) -> ?MODULE:N(Mod) end) end}}
      || N <- scenarios(), gs_compat:applies(?MODULE, N)]}.

scenarios() ->
    [echo_binary, echo_list, recv_length, recv_zero_after_partial,
     recv_timeout, recv_after_peer_close, recv_closed_socket,
     send_iodata, send_bad_iodata, send_after_close, send_after_peer_gone,
     connect_refused, listen_eaddrinuse, listen_badarg, connect_badarg,
     connect_hostname, connect_timeout, connect_eaddrinuse, accept_timeout,
     accept_closed_listener, accept_pending_then_close,
     active_true, active_once, active_n, active_n_negative, active_closed,
     active_list_mode, passive_then_active_buffered,
     controlling_process_moves_messages, controlling_process_not_owner,
     controlling_process_badarg,
     setopts_bad, getopts_values, getopts_listen, getopts_bad,
     setopts_first_wins, inet_setopts_once, peername_sockname,
     peername_listen, shutdown_write, shutdown_write_half_open, after_eof_active,
     msgq_watermarks, recbuf_bumps_buffer, shutdown_badarg, recv_concurrent,
     close_during_recv, owner_death_closes, peer_reset_passive,
     peer_reset_active, gen_tcp_funs_on_socket, options_given_twice,
     getstat_keys, getstat_values, send_timeout_blocks, recv_bad_args, show_econnreset_active,
     show_econnreset_passive, port_option, unrecv, ipv6_loopback,
     accepted_inherits, many_acceptors, large_transfer, reuseaddr_opt,
     nodelay_keepalive, buffers, send_timeout_opt].

%%% ---- basic data ----------------------------------------------------------

echo_binary(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = Mod:send(C, <<"hello">>),
    R1 = Mod:recv(S, 5, 2000),
    ok = Mod:send(S, [<<"wor">>, "ld"]),
    R2 = Mod:recv(C, 5, 2000),
    [Mod:close(X) || X <- [C, S, L]],
    [R1, R2].

echo_list(Mod) ->
    {L, C, S} = pair(Mod, [list, {active, false}]),
    ok = Mod:send(C, "abc"),
    R = Mod:recv(S, 3, 2000),
    [Mod:close(X) || X <- [C, S, L]],
    R.

recv_length(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = Mod:send(C, <<"0123456789">>),
    R = [Mod:recv(S, 4, 2000), Mod:recv(S, 6, 2000), Mod:recv(S, 1, 50)],
    [Mod:close(X) || X <- [C, S, L]],
    R.

recv_zero_after_partial(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = Mod:send(C, <<"abcdef">>),
    R1 = Mod:recv(S, 2, 2000),
    timer:sleep(20),
    R2 = Mod:recv(S, 0, 2000),
    [Mod:close(X) || X <- [C, S, L]],
    [R1, R2].

recv_timeout(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    R = [Mod:recv(S, 0, 0), Mod:recv(S, 0, 30), Mod:recv(S, 5, 30)],
    [Mod:close(X) || X <- [C, S, L]],
    R.

recv_after_peer_close(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = Mod:send(C, <<"bye">>),
    ok = Mod:close(C),
    R = [Mod:recv(S, 0, 2000), Mod:recv(S, 0, 2000), Mod:recv(S, 0, 2000)],
    [Mod:close(X) || X <- [S, L]],
    R.

recv_closed_socket(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = Mod:close(S),
    R = [Mod:recv(S, 0, 100), Mod:close(S)],
    [Mod:close(X) || X <- [C, L]],
    R.

send_iodata(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    Data = [<<"a">>, [$b, [<<"cd">>, []], $e], <<>>, [[[<<"f">>]]]],
    ok = Mod:send(C, Data),
    Big = [binary:copy(<<"x">>, 5000), "yz", [binary:copy(<<"w">>, 70000)]],
    ok = Mod:send(C, Big),
    R = recv_exact(Mod, S, 6 + 75002),
    [Mod:close(X) || X <- [C, S, L]],
    {byte_size(R), erlang:md5(R) =:= erlang:md5(iolist_to_binary([Data, Big]))}.

send_bad_iodata(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    R = [Mod:send(C, foo), Mod:send(C, [1, 2, 300]), Mod:send(C, [<<1>> | a]),
         Mod:send(C, 42)],
    [Mod:close(X) || X <- [C, S, L]],
    R.

send_after_close(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = Mod:close(C),
    R = [Mod:send(C, <<"x">>), Mod:send(C, binary:copy(<<"x">>, 10000))],
    [Mod:close(X) || X <- [S, L]],
    R.

send_after_peer_gone(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = inet:setopts(S, [{linger, {true, 0}}]),
    ok = Mod:close(S),
    timer:sleep(50),
    R = send_until_error(Mod, C, 100),
    [Mod:close(X) || X <- [C, L]],
    R.

send_until_error(_Mod, _C, 0) -> no_error;
send_until_error(Mod, C, N) ->
    case Mod:send(C, <<"data">>) of
        ok -> timer:sleep(5), send_until_error(Mod, C, N - 1);
        Error -> Error
    end.

%%% ---- connect, listen, accept -----------------------------------------------

connect_refused(Mod) ->
    {ok, L} = Mod:listen(0, []),
    {ok, Port} = inet:port(L),
    ok = Mod:close(L),
    Mod:connect({127, 0, 0, 1}, Port, ?P).

listen_eaddrinuse(Mod) ->
    {ok, L} = Mod:listen(0, ?P),
    {ok, Port} = inet:port(L),
    R = Mod:listen(Port, ?P),
    Mod:close(L),
    R.

listen_badarg(Mod) ->
    [catch Mod:listen(0, [{foo, 1}]), catch Mod:listen(0, [{active, foo}]),
     catch Mod:listen(0, [foo]), catch Mod:listen(-1, []),
     catch Mod:listen(0, [{ip, {1, 2, 3}}]), catch Mod:listen(0, [{ip, {1, 2, 3, 400}}]),
     catch Mod:listen(0, [{line_delimiter, $x}]), catch Mod:listen(0, [{packet, 3}]),
     catch Mod:listen(0, [{buffer, -1}]), catch Mod:listen(0, not_a_list)].

connect_badarg(Mod) ->
    [catch Mod:connect("localhost", 1, [{foo, 1}]),
     catch Mod:connect("localhost", 1, [{active, foo}]),
     catch Mod:connect("localhost", 1, [{backlog, 5}]),
     catch Mod:connect({1, 2, 3}, 80, []),
     catch Mod:connect("localhost", 1, [], -5),
     catch Mod:connect("localhost", 1, [], foo),
     catch Mod:connect("nonexistent.invalid", 1, []),
     catch Mod:connect("localhost", 1, not_a_list)].

connect_hostname(Mod) ->
    {ok, L} = Mod:listen(0, [{ip, {127, 0, 0, 1}} | ?P]),
    {ok, Port} = inet:port(L),
    {ok, C} = Mod:connect("localhost", Port, ?P),
    {ok, S} = Mod:accept(L, 2000),
    R = [inet:peername(S) =:= inet:sockname(C), Mod:send(C, "x"), Mod:recv(S, 1)],
    [Mod:close(X) || X <- [C, S, L]],
    R.

%% A listener whose accept queue is full drops SYNs: the connect must time
%% out.  The queue is filled with gen_tcp clients in both runs.
connect_timeout(Mod) ->
    {ok, L} = gen_tcp:listen(0, [{backlog, 0}]),
    {ok, Port} = inet:port(L),
    Fill = gs_test_lib:fill_backlog(Port),
    R = Mod:connect({127, 0, 0, 1}, Port, ?P, 300),
    [gen_tcp:close(X) || X <- [L | Fill]],
    R.


%% connect from a local port that is taken
connect_eaddrinuse(Mod) ->
    {ok, L} = Mod:listen(0, ?P),
    {ok, Port} = inet:port(L),
    {ok, L2} = gen_tcp:listen(0, []),
    {ok, Port2} = inet:port(L2),
    R = Mod:connect({127, 0, 0, 1}, Port, [{port, Port2} | ?P]),
    [gen_tcp:close(X) || X <- [L2]],
    Mod:close(L),
    R.

accept_timeout(Mod) ->
    {ok, L} = Mod:listen(0, ?P),
    R = [Mod:accept(L, 0), Mod:accept(L, 30)],
    Mod:close(L),
    R.

accept_closed_listener(Mod) ->
    {ok, L} = Mod:listen(0, ?P),
    ok = Mod:close(L),
    [Mod:accept(L, 100), Mod:accept(L)].

accept_pending_then_close(Mod) ->
    {ok, L} = Mod:listen(0, ?P),
    Self = self(),
    spawn(fun() -> Self ! {acc, Mod:accept(L, 5000)} end),
    timer:sleep(50),
    ok = Mod:close(L),
    receive {acc, R} -> R after 5000 -> no_reply end.

%%% ---- active modes ----------------------------------------------------------

active_true(Mod) ->
    {L, C, S} = pair(Mod, [binary, {active, true}], ?P),
    ok = Mod:send(C, <<"one">>),
    M1 = recv_msg(),
    ok = Mod:close(C),
    M2 = recv_msg(),
    [Mod:close(X) || X <- [S, L]],
    [M1, M2].

active_once(Mod) ->
    {L, C, S} = pair(Mod, [binary, {active, once}], ?P),
    ok = Mod:send(C, <<"one">>),
    M1 = recv_msg(),
    ok = Mod:send(C, <<"two">>),
    M2 = recv_msg(),
    Opts = inet:getopts(S, [active]),
    ok = inet:setopts(S, [{active, once}]),
    M3 = recv_msg(),
    [Mod:close(X) || X <- [C, S, L]],
    [M1, M2, Opts, M3].

active_n(Mod) ->
    {L, C, S} = pair(Mod, [binary, {active, 2}], ?P),
    ok = Mod:send(C, <<"a">>),
    M1 = recv_msg(),
    ok = Mod:send(C, <<"b">>),
    M2 = recv_msg(),
    M3 = recv_msg(),
    O1 = inet:getopts(S, [active]),
    ok = inet:setopts(S, [{active, 3}]),
    O2 = inet:getopts(S, [active]),
    ok = inet:setopts(S, [{active, 4}]),
    O3 = inet:getopts(S, [active]),
    E = inet:setopts(S, [{active, 32767}]),
    [Mod:close(X) || X <- [C, S, L]],
    [M1, M2, M3, O1, O2, O3, E].

active_n_negative(Mod) ->
    {L, C, S} = pair(Mod, [binary, {active, 2}], ?P),
    R1 = inet:setopts(S, [{active, -5}]),
    M = recv_msg(),
    O = inet:getopts(S, [active]),
    [Mod:close(X) || X <- [C, S, L]],
    [R1, M, O].

active_closed(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = Mod:close(C),
    timer:sleep(50),
    ok = inet:setopts(S, [{active, once}]),
    M = recv_msg(),
    R = Mod:send(S, <<"x">>),
    [Mod:close(X) || X <- [S, L]],
    [M, R].

active_list_mode(Mod) ->
    {L, C, S} = pair(Mod, [list, {active, true}], ?P),
    ok = Mod:send(C, "text"),
    M = recv_msg(),
    [Mod:close(X) || X <- [C, S, L]],
    M.

passive_then_active_buffered(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = Mod:send(C, <<"0123456789">>),
    {ok, A} = Mod:recv(S, 3, 2000),
    ok = inet:setopts(S, [{active, once}]),
    M = recv_msg(),
    [Mod:close(X) || X <- [C, S, L]],
    [A, M].

%%% ---- ownership -------------------------------------------------------------

controlling_process_moves_messages(Mod) ->
    {L, C, S} = pair(Mod, [binary, {active, true}], ?P),
    ok = Mod:send(C, <<"queued">>),
    timer:sleep(100),
    Self = self(),
    New = spawn(fun() ->
                        receive go -> ok end,
                        Self ! {got, gs_test_lib:flush()}
                end),
    R = Mod:controlling_process(S, New),
    New ! go,
    Got = receive {got, G} -> G after 2000 -> none end,
    [Mod:close(X) || X <- [C, L]],
    [R, Got, gs_test_lib:flush()].

controlling_process_not_owner(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    Self = self(),
    spawn(fun() -> Self ! {r, Mod:controlling_process(S, self())} end),
    R = receive {r, X} -> X after 2000 -> none end,
    Same = Mod:controlling_process(S, self()),
    [Mod:close(Y) || Y <- [C, S, L]],
    [R, Same, Mod:controlling_process(S, self())].

controlling_process_badarg(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    R = (catch Mod:controlling_process(S, foo)),
    [Mod:close(Y) || Y <- [C, S, L]],
    R.

%%% ---- options ---------------------------------------------------------------

setopts_bad(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    R = [inet:setopts(S, [{active, foo}]), inet:setopts(S, [{foo, 1}]),
         inet:setopts(S, [{packet, 3}]), inet:setopts(S, [{buffer, foo}]),
         inet:setopts(S, [{nodelay, 1}]), inet:setopts(S, [bad])],
    [Mod:close(X) || X <- [C, S, L]],
    R.

getopts_values(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    R = inet:getopts(S, [active, mode, nodelay, buffer, packet, send_timeout,
                         reuseaddr, keepalive, exit_on_close, high_watermark,
                         low_watermark, packet_size, delay_send, header,
                         send_timeout_close, show_econnreset, linger,
                         line_delimiter, deliver, priority, tos]),
    [Mod:close(X) || X <- [C, S, L]],
    R.

getopts_listen(Mod) ->
    {ok, L} = Mod:listen(0, [{reuseaddr, true}, {backlog, 10} | ?P]),
    R = inet:getopts(L, [active, mode, reuseaddr, nodelay, buffer]),
    Mod:close(L),
    R.

getopts_bad(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    R = [inet:getopts(S, [foo]), inet:getopts(S, [{active, 1}])],
    [Mod:close(X) || X <- [C, S, L]],
    R.

setopts_first_wins(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = inet:setopts(S, [{active, false}, {active, true}, binary, list]),
    R = inet:getopts(S, [active, mode]),
    [Mod:close(X) || X <- [C, S, L]],
    R.

options_given_twice(Mod) ->
    {ok, L} = Mod:listen(0, [list, binary, {active, true}, {active, false}]),
    R = inet:getopts(L, [mode, active]),
    Mod:close(L),
    R.

inet_setopts_once(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = Mod:send(C, <<"x">>),
    ok = inet:setopts(S, [{active, once}]),
    M = recv_msg(),
    [Mod:close(X) || X <- [C, S, L]],
    M.

peername_sockname(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    R = [inet:peername(C) =:= inet:sockname(S), inet:sockname(C) =:= inet:peername(S),
         element(1, element(2, inet:peername(C)))],
    [Mod:close(X) || X <- [C, S, L]],
    R ++ [inet:peername(C), inet:sockname(C)].

peername_listen(Mod) ->
    {ok, L} = Mod:listen(0, [{ip, {127, 0, 0, 1}} | ?P]),
    R = [inet:peername(L), element(1, element(2, inet:sockname(L)))],
    Mod:close(L),
    R.

reuseaddr_opt(Mod) ->
    {ok, L} = Mod:listen(0, [{reuseaddr, true} | ?P]),
    R1 = inet:getopts(L, [reuseaddr]),
    ok = inet:setopts(L, [{reuseaddr, false}]),
    R2 = inet:getopts(L, [reuseaddr]),
    Mod:close(L),
    [R1, R2].

nodelay_keepalive(Mod) ->
    {L, C, S} = pair(Mod, [{nodelay, true}, {keepalive, true} | ?P]),
    R = [inet:getopts(C, [nodelay, keepalive]), inet:getopts(S, [nodelay, keepalive])],
    [Mod:close(X) || X <- [C, S, L]],
    R.

buffers(Mod) ->
    {L, C, S} = pair(Mod, [{recbuf, 65536}, {sndbuf, 65536}, {buffer, 4000} | ?P]),
    {ok, [{recbuf, R}, {sndbuf, Sn}, {buffer, B}]} =
        inet:getopts(C, [recbuf, sndbuf, buffer]),
    [Mod:close(X) || X <- [C, S, L]],
    [R >= 65536, Sn >= 65536, B].

send_timeout_opt(Mod) ->
    {L, C, S} = pair(Mod, [{send_timeout, 1000} | ?P]),
    R = [inet:getopts(C, [send_timeout]), inet:setopts(C, [{send_timeout, infinity}]),
         inet:getopts(C, [send_timeout])],
    [Mod:close(X) || X <- [C, S, L]],
    R.

getstat_keys(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = Mod:send(C, <<"12345">>),
    {ok, _} = Mod:recv(S, 5, 2000),
    {ok, SC} = inet:getstat(C),
    {ok, SS} = inet:getstat(S, [recv_oct, recv_cnt, send_pend]),
    [Mod:close(X) || X <- [C, S, L]],
    [[K || {K, _} <- SC], proplists:get_value(send_oct, SC), SS].

%% Every statistic, on both ends, after a known sequence of messages.
getstat_values(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    [begin ok = Mod:send(C, binary:copy(<<"x">>, N)), {ok, _} = Mod:recv(S, N, 1000) end
     || N <- [10, 100, 1000, 5, 7]],
    ok = Mod:send(C, [<<"ab">>, "cd"]),
    timer:sleep(50),
    R = [inet:getstat(C), inet:getstat(S)],
    [Mod:close(X) || X <- [C, S, L]],
    R.

%% The peer never reads: sends go through until the queue is over the
%% high watermark, then one times out; with send_timeout_close the
%% connection is gone afterwards.
send_timeout_blocks(Mod) ->
    [begin
         {L, C, S} = pair(Mod, [{send_timeout, 200}, {send_timeout_close, Close},
                                {sndbuf, 16384}, {recbuf, 16384} | ?P]),
         Chunk = binary:copy(<<"z">>, 1048576),   % far over any buffer
         R1 = send_until_timeout(Mod, C, Chunk, 0),
         R2 = [Mod:send(C, <<"x">>), Mod:recv(C, 0, 10), inet:getopts(C, [active])],
         [Mod:close(X) || X <- [C, S, L]],
         [R1, R2]
     end || Close <- [false, true]].

send_until_timeout(_Mod, _C, _Chunk, 100) -> never;
send_until_timeout(Mod, C, Chunk, N) ->
    case Mod:send(C, Chunk) of
        ok -> send_until_timeout(Mod, C, Chunk, N + 1);
        E -> {E, N > 0}
    end.

%%% ---- shutdown, concurrency, lifetime -----------------------------------------

shutdown_write(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = Mod:send(C, <<"last">>),
    R0 = Mod:shutdown(C, write),
    R1 = Mod:recv(S, 0, 2000),
    R2 = Mod:recv(S, 0, 2000),
    R3 = Mod:send(S, <<"gone">>),     % exit_on_close: the end closed it
    R4 = [Mod:recv(S, 0, 100), inet:peername(S), Mod:shutdown(S, write)],
    [Mod:close(X) || X <- [C, S, L]],
    [R0, R1, R2, R3, R4].

%% Half-close: with {exit_on_close, false} the peer sees EOF and can
%% still answer.
shutdown_write_half_open(Mod) ->
    {L, C, S} = pair(Mod, [{exit_on_close, false} | ?P]),
    ok = Mod:send(C, <<"last">>),
    R0 = Mod:shutdown(C, write),
    R1 = Mod:recv(S, 0, 2000),
    R2 = Mod:recv(S, 0, 2000),
    R3 = Mod:send(S, <<"still">>),
    R4 = Mod:recv(C, 0, 2000),
    [Mod:close(X) || X <- [C, S, L]],
    [R0, R1, R2, R3, R4].

after_eof_active(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = Mod:close(C),
    R1 = Mod:recv(S, 0, 2000),
    R2 = inet:getopts(S, [active, nodelay]),
    R3 = inet:setopts(S, [{active, true}]),
    M = recv_msg(),
    R4 = [Mod:send(S, "x"), Mod:shutdown(S, write)],
    Mod:close(L),
    [R1, R2, R3, M, R4].

msgq_watermarks(Mod) ->
    {ok, L} = Mod:listen(0, ?P),
    R = [inet:getopts(L, [high_msgq_watermark, low_msgq_watermark]),
         inet:setopts(L, [{high_msgq_watermark, 100}]),
         inet:getopts(L, [high_msgq_watermark, low_msgq_watermark]),
         inet:setopts(L, [{low_msgq_watermark, 200}]),
         inet:getopts(L, [high_msgq_watermark, low_msgq_watermark]),
         inet:setopts(L, [{low_msgq_watermark, 0}]),
         inet:setopts(L, [{high_watermark, -5}]),
         inet:getopts(L, [high_watermark, low_watermark]),
         inet:setopts(L, [{buffer, 0}]), inet:getopts(L, [buffer]),
         inet:setopts(L, [{packet_size, -1}]), inet:setopts(L, [{header, -1}]),
         inet:getopts(L, [line_delimiter])],
    Mod:close(L),
    R.

recbuf_bumps_buffer(Mod) ->
    {ok, L} = Mod:listen(0, [{recbuf, 65536} | ?P]),
    R1 = inet:getopts(L, [buffer]),
    ok = inet:setopts(L, [{buffer, 2000}]),
    ok = inet:setopts(L, [{recbuf, 300000}]),
    R2 = inet:getopts(L, [buffer]),
    Mod:close(L),
    [R1, R2].

shutdown_badarg(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    R = (catch Mod:shutdown(C, sideways)),
    [Mod:close(X) || X <- [C, S, L]],
    R.

recv_concurrent(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    Self = self(),
    spawn(fun() -> Self ! {first, Mod:recv(S, 0, 2000)} end),
    timer:sleep(50),
    Second = Mod:recv(S, 0, 100),
    ok = Mod:send(C, <<"x">>),
    First = receive {first, F} -> F after 3000 -> none end,
    [Mod:close(X) || X <- [C, S, L]],
    [Second, First].

close_during_recv(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    Self = self(),
    spawn(fun() -> Self ! {r, Mod:recv(S, 0, 5000)} end),
    timer:sleep(50),
    ok = Mod:close(S),
    R = receive {r, X} -> X after 6000 -> none end,
    [Mod:close(Y) || Y <- [C, L]],
    R.

owner_death_closes(Mod) ->
    {ok, L} = Mod:listen(0, ?P),
    {ok, Port} = inet:port(L),
    Self = self(),
    Owner = spawn(fun() ->
                          {ok, C} = Mod:connect({127, 0, 0, 1}, Port, ?P),
                          Self ! {c, C},
                          receive stop -> ok end
                  end),
    {ok, S} = Mod:accept(L, 2000),
    C = receive {c, X} -> X end,
    MRef = erlang:monitor(process, Owner),
    exit(Owner, kill),
    receive {'DOWN', MRef, _, _, _} -> ok end,
    R = [Mod:recv(S, 0, 2000), erlang:port_info(C) =:= undefined],
    [Mod:close(Y) || Y <- [S, L]],
    R.

peer_reset_passive(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = inet:setopts(C, [{linger, {true, 0}}]),
    ok = Mod:close(C),
    R = Mod:recv(S, 0, 2000),
    [Mod:close(X) || X <- [S, L]],
    R.

peer_reset_active(Mod) ->
    {L, C, S} = pair(Mod, [binary, {active, true}], ?P),
    ok = inet:setopts(C, [{linger, {true, 0}}]),
    ok = Mod:close(C),
    M = recv_msg(),
    [Mod:close(X) || X <- [S, L]],
    M.

%% gen_tcp's own functions on the socket dispatch to its module.
gen_tcp_funs_on_socket(Mod) ->
    {ok, L} = Mod:listen(0, ?P),
    {ok, Port} = inet:port(L),
    {ok, C} = Mod:connect({127, 0, 0, 1}, Port, ?P),
    {ok, S} = gen_tcp:accept(L, 2000),
    R = [gen_tcp:send(C, <<"via gen_tcp">>), gen_tcp:recv(S, 11, 2000),
         gen_tcp:shutdown(C, write), gen_tcp:recv(S, 0, 2000),
         gen_tcp:controlling_process(S, self()), gen_tcp:close(S),
         gen_tcp:close(C), gen_tcp:close(L)],
    R.

recv_bad_args(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    R = [catch Mod:recv(S, -1, 0), catch Mod:recv(S, foo, 0),
         catch Mod:recv(S, 0, foo), Mod:recv(L, 0, 10)],
    [Mod:close(X) || X <- [C, S, L]],
    R.

large_transfer(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    Data = crypto_free_random(3000000),
    Self = self(),
    spawn(fun() -> Self ! {sent, Mod:send(C, Data)} end),
    Got = recv_exact(Mod, S, byte_size(Data)),
    Sent = receive {sent, X} -> X after 10000 -> none end,
    [Mod:close(Y) || Y <- [C, S, L]],
    [Sent, Got =:= Data].

show_econnreset_active(Mod) ->
    {L, C, S} = pair(Mod, [binary, {active, true}, {show_econnreset, true}], ?P),
    ok = inet:setopts(C, [{linger, {true, 0}}]),
    ok = Mod:close(C),
    M1 = recv_msg(),
    M2 = recv_msg(),
    [Mod:close(X) || X <- [S, L]],
    [M1, M2].

show_econnreset_passive(Mod) ->
    {L, C, S} = pair(Mod, [{show_econnreset, true} | ?P]),
    ok = inet:setopts(C, [{linger, {true, 0}}]),
    ok = Mod:close(C),
    R = [Mod:recv(S, 0, 2000), Mod:recv(S, 0, 100)],
    [Mod:close(X) || X <- [S, L]],
    R.

port_option(Mod) ->
    {ok, L0} = gen_tcp:listen(0, [{reuseaddr, true}]),
    {ok, Port} = inet:port(L0),
    gen_tcp:close(L0),
    {ok, L} = Mod:listen(0, [{port, Port}, {reuseaddr, true} | ?P]),
    R = inet:port(L) =:= {ok, Port},
    Mod:close(L),
    R.

accepted_inherits(Mod) ->
    {L, C, S} = pair(Mod, [list, {active, once}, {nodelay, true}, {send_timeout, 5000}], ?P),
    R = inet:getopts(S, [mode, active, nodelay, send_timeout]),
    [Mod:close(X) || X <- [C, S, L]],
    R.

many_acceptors(Mod) ->
    {ok, L} = Mod:listen(0, ?P),
    {ok, Port} = inet:port(L),
    Self = self(),
    [spawn(fun() -> Self ! {acc, Mod:accept(L, 5000)} end)
     || _ <- lists:seq(1, 5)],
    timer:sleep(50),
    Cs = [element(2, Mod:connect({127, 0, 0, 1}, Port, ?P)) || _ <- lists:seq(1, 5)],
    R = lists:sort([receive {acc, X} -> X after 5000 -> none end || _ <- Cs]),
    [Mod:close(X) || X <- [L | Cs]],
    R.

unrecv(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = Mod:send(C, <<"world">>),
    timer:sleep(20),
    R = [gen_tcp:unrecv(S, <<"hello ">>), Mod:recv(S, 0, 1000),
         gen_tcp:unrecv(S, "abc"), gen_tcp:unrecv(S, [<<"x">>, "y"]),
         Mod:recv(S, 2, 1000), Mod:recv(S, 0, 1000), Mod:recv(S, 0, 1000),
         gen_tcp:unrecv(S, foo), gen_tcp:unrecv(L, <<"x">>),
         gen_tcp:unrecv(S, <<"act">>), inet:setopts(S, [{active, once}]), recv_msg()],
    [Mod:close(X) || X <- [C, S, L]],
    R.

ipv6_loopback(Mod) ->
    {ok, L} = Mod:listen(0, [inet6, {ip, {0, 0, 0, 0, 0, 0, 0, 1}} | ?P]),
    {ok, Port} = inet:port(L),
    {ok, C} = Mod:connect({0, 0, 0, 0, 0, 0, 0, 1}, Port, ?P),
    {ok, S} = Mod:accept(L, 2000),
    {ok, C2} = Mod:connect("::1", Port, [inet6 | ?P]),    % a string host
    {ok, S2} = Mod:accept(L, 2000),
    ok = Mod:send(C, <<"six">>),
    R = [Mod:recv(S, 3, 2000), inet:peername(C) =:= inet:sockname(S),
         element(1, element(2, inet:sockname(L))), element(1, element(2, inet:peername(S2))),
         Mod:connect({0, 0, 0, 0, 0, 0, 0, 1}, Port + 1, ?P)],
    [Mod:close(X) || X <- [C, S, C2, S2, L]],
    R.

%%% ---- helpers -----------------------------------------------------------------

recv_msg() ->
    receive M -> M after 2000 -> no_message end.


crypto_free_random(N) ->
    rand:seed(exsplus, {1, 2, 3}),
    list_to_binary([rand:uniform(256) - 1 || _ <- lists:seq(1, N)]).
