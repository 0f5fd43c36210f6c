%% Side by side: the answers of a socket whose end was reported with
%% exit_on_close.  inet_drv's port exits when it sends {tcp_closed, S} (or
%% {tcp_error, S, E} then {tcp_closed, S}); every later call is a call on
%% a closed port.  gen_socket's port ends too (asked by its poller, or at
%% the next call on it, whichever comes first), so the answers, the links
%% and what a trapping owner receives are gen_tcp's.
-module(gen_socket_closed_tests).
-include_lib("eunit/include/eunit.hrl").

-define(P, [binary, {active, false}]).
-export([scenario/2]).

closed_test_() ->
    {setup, fun gs_test_lib:start/0,
     [{atom_to_list(N), {timeout, 60, fun() -> same(N, T) end}}
      || {N, T} <- [{peer_close_at_once, false}, {peer_close_at_once, true},
                    {peer_close_later, false}, {peer_close_later, true},
                    {passive_then_active, false},
                    {passive_then_active, true},
                    {reset_shown, true}, {reset_hidden, true},
                    {emsgsize, true}, {no_exit_on_close, true},
                    {close_after, false}]]}.

same(N, Trap) ->
    {T, S} = gs_test_lib:same(fun(Mod) ->
                                      process_flag(trap_exit, Trap),
                                      scenario(N, Mod)
                              end),
    ?assertEqual({N, Trap, T}, {N, Trap, S}).

tmp_file() ->
    F = "/tmp/gs_closed_" ++ integer_to_list(erlang:unique_integer([positive])),
    ok = file:write_file(F, <<"data">>),
    F.

%% Every call a user may make on the socket, in order.
ops(Mod, S) ->
    F = tmp_file(),
    R = [inet:setopts(S, [{active, once}]), inet:getopts(S, [active]),
         ip(inet:peername(S)), ip(inet:sockname(S)),
         inet:getstat(S, [recv_cnt]),
         Mod:send(S, <<"x">>), Mod:recv(S, 0, 100), Mod:shutdown(S, write),
         Mod:unrecv(S, <<"x">>), ip(inet:port(S)), catch file:sendfile(F, S),
         owner(S), Mod:controlling_process(S, self()),
         Mod:controlling_process(S, whereis(init)),
         gen_tcp:send(S, <<"y">>), gen_tcp:recv(S, 0, 100)],
    ok = file:delete(F),
    R.

owner(S) ->
    case erlang:port_info(S, connected) of
        {connected, P} -> {connected, P =:= self()};
        Other -> Other
    end.

%% Port numbers differ between the two runs.
ip({ok, {IP, Port}}) when is_integer(Port) -> {ok, {IP, port}};
ip({ok, Port}) when is_integer(Port) -> {ok, port};
ip(Other) -> Other.

%% What the owner holds now, and after closing.
rest(Mod, S) ->
    Links = lists:member(S, element(2, process_info(self(), links))),
    Msgs = now_msgs(),
    [Links, Msgs, Mod:close(S), now_msgs()].

now_msgs() ->
    receive M -> [M | now_msgs()] after 0 -> [] end.

closed_msg() ->
    receive {tcp_closed, _} = M -> M after 5000 -> no_tcp_closed end.

%% Until the port is gone (inet_drv's is gone at once; gen_socket's when
%% its poller has ended it).
port_gone(S) ->
    gs_test_lib:wait_until(fun() -> erlang:port_info(S) =:= undefined end,
                           250).

scenario(peer_close_at_once, Mod) ->
    {_L, C, S} = gs_test_lib:pair(Mod, [binary, {active, true}], ?P),
    ok = Mod:close(C),
    M = closed_msg(),
    [M, ops(Mod, S), rest(Mod, S)];
scenario(peer_close_later, Mod) ->
    {_L, C, S} = gs_test_lib:pair(Mod, [binary, {active, true}], ?P),
    ok = Mod:close(C),
    M = closed_msg(),
    Gone = port_gone(S),
    [M, Gone, rest(Mod, S), ops(Mod, S)];
scenario(passive_then_active, Mod) ->
    {_L, C, S} = gs_test_lib:pair(Mod, ?P),
    ok = Mod:close(C),
    R = Mod:recv(S, 0, 5000),
    [R, ops(Mod, S), rest(Mod, S)];
scenario(reset_shown, Mod) ->
    {_L, C, S} = gs_test_lib:pair(Mod, [binary, {active, true},
                                        {show_econnreset, true}], ?P),
    ok = inet:setopts(C, [{linger, {true, 0}}]),
    ok = Mod:close(C),
    M = closed_msg(),
    [M, ops(Mod, S), rest(Mod, S)];
scenario(reset_hidden, Mod) ->
    {_L, C, S} = gs_test_lib:pair(Mod, [binary, {active, true}], ?P),
    ok = inet:setopts(C, [{linger, {true, 0}}]),
    ok = Mod:close(C),
    M = closed_msg(),
    Gone = port_gone(S),
    [M, Gone, rest(Mod, S)];
scenario(emsgsize, Mod) ->
    {_L, C, S} = gs_test_lib:pair(Mod, [binary, {active, true}, {packet, 4},
                                        {packet_size, 10}], ?P),
    ok = Mod:send(C, <<100:32, 0:800>>),
    M = closed_msg(),
    [M, ops(Mod, S), rest(Mod, S)];
scenario(no_exit_on_close, Mod) ->
    {_L, C, S} = gs_test_lib:pair(Mod, [binary, {active, true},
                                        {exit_on_close, false}], ?P),
    ok = Mod:close(C),
    M = closed_msg(),
    [M, ops(Mod, S), rest(Mod, S)];
%% The owner closes a socket whose end it was told: ok, as on gen_tcp.
scenario(close_after, Mod) ->
    {_L, C, S} = gs_test_lib:pair(Mod, [binary, {active, true}], ?P),
    ok = Mod:close(C),
    M = closed_msg(),
    [M, Mod:close(S), Mod:close(S), now_msgs()].
