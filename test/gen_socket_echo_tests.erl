%% Echo under load: 200 concurrent connections, random message sizes
%% (1 B .. 256 KiB), every byte checked, for each delivery mode of the
%% server side (passive, once, N, true).
-module(gen_socket_echo_tests).
-include_lib("eunit/include/eunit.hrl").

-define(CONNS, 200).
-define(MSGS, 3).
-define(MAX_SIZE, 262144).

echo_test_() ->
    {setup, fun gs_test_lib:start/0,
     [{atom_to_list(Mode), {timeout, 300, fun() -> echo(Mode) end}}
      || Mode <- [passive, once, multi, true],
         gs_compat:applies(?MODULE, Mode)]}.

echo(Mode) ->
    Before = info_totals(),
    {ok, L} = gen_socket:listen(0, [binary, {active, false}, {reuseaddr, true},
                                    {backlog, 256}]),
    {ok, Port} = inet:port(L),
    Acceptor = spawn_link(fun() -> acceptor(L, Mode) end),
    Parent = self(),
    Clients = [spawn_link(fun() -> Parent ! {done, self(), client(Port, I)} end)
               || I <- lists:seq(1, ?CONNS)],
    Results = [receive {done, C, R} -> R after 240000 -> timeout end
               || C <- Clients],
    unlink(Acceptor),
    exit(Acceptor, kill),
    gen_socket:close(L),
    ?assertEqual([], [R || R <- Results, R =/= ok]),
    %% The traffic went through gen_socket's pollsets, on the scheduler side.
    After = info_totals(),
    ?assert(element(1, After) > element(1, Before)),  % dispatch rounds
    ?assert(element(2, After) > element(2, Before)),  % events
    %% and never in a watcher thread
    ?assertEqual(0, lists:sum([proplists:get_value(watcher_events, I)
                               || I <- gen_socket:info()])).

info_totals() ->
    Info = gen_socket:info(),
    {lists:sum([proplists:get_value(rounds, I) || I <- Info]),
     lists:sum([proplists:get_value(events, I) || I <- Info])}.

acceptor(L, Mode) ->
    {ok, S} = gen_socket:accept(L),
    Pid = spawn(fun() -> receive go -> ok end, server(S, Mode) end),
    ok = gen_socket:controlling_process(S, Pid),
    Pid ! go,
    acceptor(L, Mode).

server(S, passive) ->
    case gen_socket:recv(S, 0) of
        {ok, D} -> ok = gen_socket:send(S, D), server(S, passive);
        {error, closed} -> gen_socket:close(S)
    end;
server(S, once) ->
    ok = inet:setopts(S, [{active, once}]),
    active_loop(S, once);
server(S, multi) ->
    ok = inet:setopts(S, [{active, 5}]),
    active_loop(S, multi);
server(S, true) ->
    ok = inet:setopts(S, [{active, true}]),
    active_loop(S, true).

active_loop(S, Mode) ->
    receive
        {tcp, S, D} ->
            ok = gen_socket:send(S, D),
            Mode =:= once andalso inet:setopts(S, [{active, once}]),
            active_loop(S, Mode);
        {tcp_passive, S} ->
            ok = inet:setopts(S, [{active, 5}]),
            active_loop(S, Mode);
        {tcp_closed, S} ->
            gen_socket:close(S);
        {tcp_error, S, _} ->
            gen_socket:close(S)
    end.

client(Port, I) ->
    rand:seed(exsplus, {I, I * 7, I * 13}),
    {ok, C} = gen_socket:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    R = client_loop(C, ?MSGS),
    gen_socket:close(C),
    R.

client_loop(_C, 0) -> ok;
client_loop(C, N) ->
    Size = rand:uniform(?MAX_SIZE),
    Msg = payload(Size),
    ok = gen_socket:send(C, Msg),
    Back = recv_n(C, Size, []),
    case erlang:md5(Back) =:= erlang:md5(Msg) of
        true -> client_loop(C, N - 1);
        false -> {mismatch, Size}
    end.

recv_n(_C, 0, Acc) -> iolist_to_binary(lists:reverse(Acc));
recv_n(C, N, Acc) ->
    {ok, D} = gen_socket:recv(C, 0, 60000),
    recv_n(C, N - byte_size(D), [D | Acc]).

%% Random bytes, cheap: a random 4 KiB block repeated with a counter.
payload(Size) ->
    Block = list_to_binary([rand:uniform(256) - 1 || _ <- lists:seq(1, 4096)]),
    payload(Size, Block, 0, []).
payload(Size, _Block, _K, Acc) when Size =< 0 ->
    binary:part(iolist_to_binary(Acc), 0, iolist_size(Acc) + Size);
payload(Size, Block, K, Acc) ->
    payload(Size - 4100, Block, K + 1, [[<<K:32>>, Block] | Acc]).
