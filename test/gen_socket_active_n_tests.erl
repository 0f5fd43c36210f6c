%% Side by side: what setopts(active) delivers inside the call.  inet_drv
%% delivers buffered (and readable) data before setopts returns, so the
%% messages are in the mailbox and {active, N} is already counted down when
%% getopts looks; gen_socket does the same (from the poller port, see
%% doc/design-notes.md).  Every check reads the mailbox without waiting.
-module(gen_socket_active_n_tests).
-include_lib("eunit/include/eunit.hrl").

-define(P, [binary, {active, false}]).

active_n_test_() ->
    {setup, fun gs_test_lib:start/0,
     [{atom_to_list(N), {timeout, 30, fun() -> same(N) end}}
      || N <- [unrecv_n, packets_n, packets_one_left, accumulate,
               active_true, active_once, eof_then_active, unrecv_active]] ++
     [{"order_kept", {timeout, 30,
                      fun() -> ?assertMatch({[20, true], _}, same(order_kept))
                      end}},
      {"the brief's case: {active, 2} with data waiting",
       {timeout, 30,
        fun() ->
                ?assertMatch({[ok, [{tcp, sock, <<"xyz">>}],
                               {ok, [{active, 1}]}], _}, same(unrecv_n))
        end}}]}.

same(N) ->
    {T, S} = gs_test_lib:same(fun(Mod) -> scenario(N, Mod) end),
    ?assertEqual({N, T}, {N, S}),
    {T, S}.

%% The mailbox now, without waiting.
now_msgs() ->
    receive M -> [M | now_msgs()] after 0 -> [] end.

%% A connected pair whose server side S holds Count 1-byte-header packets
%% in its driver buffer: the peer sends them in one segment, a recv of
%% the first one reads them all.
buffered(Mod, Count) ->
    {L, C, S} = gs_test_lib:pair(Mod, [{packet, 1} | ?P], ?P),
    Pkts = << <<1, ($a + I)>> || I <- lists:seq(0, Count) >>,
    ok = Mod:send(C, Pkts),
    {ok, <<"a">>} = Mod:recv(S, 0, 5000),
    {L, C, S}.

scenario(unrecv_n, Mod) ->
    {_L, _C, S} = gs_test_lib:pair(Mod, ?P),
    ok = Mod:unrecv(S, <<"xyz">>),
    [inet:setopts(S, [{active, 2}]), now_msgs(), inet:getopts(S, [active])];
scenario(packets_n, Mod) ->
    {_L, _C, S} = buffered(Mod, 2),
    [inet:setopts(S, [{active, 2}]), now_msgs(), inet:getopts(S, [active])];
scenario(packets_one_left, Mod) ->
    {_L, _C, S} = buffered(Mod, 3),
    R1 = [inet:setopts(S, [{active, 1}]), now_msgs(),
          inet:getopts(S, [active])],
    R2 = [inet:setopts(S, [{active, 5}]), now_msgs(),
          inet:getopts(S, [active])],
    [R1, R2];
scenario(accumulate, Mod) ->
    {_L, _C, S} = gs_test_lib:pair(Mod, ?P),
    [inet:setopts(S, [{active, 2}]), inet:getopts(S, [active]),
     inet:setopts(S, [{active, 3}]), inet:getopts(S, [active]),
     inet:setopts(S, [{active, -4}]), inet:getopts(S, [active]), now_msgs(),
     inet:setopts(S, [{active, -10}]), inet:getopts(S, [active]), now_msgs(),
     inet:setopts(S, [{active, 0}]), now_msgs()];
scenario(active_true, Mod) ->
    {_L, _C, S} = buffered(Mod, 3),
    [inet:setopts(S, [{active, true}]), now_msgs(),
     inet:getopts(S, [active])];
scenario(active_once, Mod) ->
    {_L, _C, S} = buffered(Mod, 2),
    [inet:setopts(S, [{active, once}]), now_msgs(),
     inet:getopts(S, [active]),
     inet:setopts(S, [{active, once}]), now_msgs(),
     inet:getopts(S, [active])];
scenario(eof_then_active, Mod) ->
    {_L, C, S} = gs_test_lib:pair(Mod, ?P),
    ok = Mod:close(C),
    R = Mod:recv(S, 0, 5000),
    [R, inet:setopts(S, [{active, once}]), now_msgs()];
%% Data delivered inside setopts comes before data dispatch delivers
%% later: the stream arrives whole and in order.
scenario(order_kept, Mod) ->
    {_L, C, S} = buffered(Mod, 20),
    ok = inet:setopts(S, [{active, true}]),
    Inside = [D || {tcp, _, D} <- now_msgs()],
    Later = << <<1, I>> || I <- lists:seq(1, 200) >>,
    ok = Mod:send(C, Later),
    Msgs = Inside ++ collect_packets(20 + 200 - length(Inside)),
    Expected = [<<($a + I)>> || I <- lists:seq(1, 20)] ++
        [<<I>> || I <- lists:seq(1, 200)],
    [length(Inside), Msgs =:= Expected];
scenario(unrecv_active, Mod) ->
    {_L, _C, S} = gs_test_lib:pair(Mod, [{active, true} | ?P]),
    [Mod:unrecv(S, <<"back">>), now_msgs()].

collect_packets(0) -> [];
collect_packets(N) ->
    receive {tcp, _, D} -> [D | collect_packets(N - 1)]
    after 5000 -> [timeout]
    end.
