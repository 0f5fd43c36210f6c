%% Memory of idle connections: run in a fresh VM per module, opens N
%% loopback connections (both ends in this VM, held by one process),
%% exchanges one small message each way on each, lets them sit, and
%% prints what erlang:memory() and the VM's RSS grew by.
%%   erl -noshell -pa ebin -pa bench/bin -run gs_idle_mem main gen_socket 8000
-module(gs_idle_mem).
-export([main/1]).

main([ModS, NS]) ->
    Mod = list_to_atom(ModS),
    N = list_to_integer(NS),
    _ = application:start(gen_socket),
    Base = measure(),
    {ok, L} = Mod:listen(0, [binary, {active, false}, {backlog, 1024}]),
    {ok, Port} = inet:port(L),
    Pairs = [pair(Mod, L, Port) || _ <- lists:seq(1, N)],
    Connected = measure(),
    [exchange(Mod, C, S) || {C, S} <- Pairs],
    timer:sleep(500),
    Used = measure(),
    io:format("~w.~n", [{Mod, N, [{connected, diff(Connected, Base)},
                                   {after_traffic, diff(Used, Base)}]}]),
    [begin Mod:close(C), Mod:close(S) end || {C, S} <- Pairs],
    Mod:close(L),
    halt(0).

pair(Mod, L, Port) ->
    {ok, C} = Mod:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    {ok, S} = Mod:accept(L, 5000),
    {C, S}.

%% 100 bytes each way: every socket has read and written once.
exchange(Mod, C, S) ->
    Msg = binary:copy(<<"m">>, 100),
    ok = Mod:send(C, Msg),
    {ok, _} = Mod:recv(S, 100, 5000),
    ok = Mod:send(S, Msg),
    {ok, _} = Mod:recv(C, 100, 5000).

measure() ->
    [erlang:garbage_collect(P) || P <- erlang:processes()],
    timer:sleep(100),
    M = erlang:memory(),
    [{rss, rss()} | [{K, proplists:get_value(K, M)}
                     || K <- [total, processes, system, binary, ets]]].

diff(A, B) ->
    [{K, V - proplists:get_value(K, B)} || {K, V} <- A].

%% VmRSS from /proc, in bytes.
rss() ->
    {ok, Bin} = file:read_file("/proc/self/status"),
    [Line] = [L || L <- binary:split(Bin, <<"\n">>, [global]),
                   binary:part(L, 0, min(6, byte_size(L))) =:= <<"VmRSS:">>],
    [_, KB | _] = binary:split(Line, [<<" ">>, <<"\t">>], [global, trim_all]),
    binary_to_integer(KB) * 1024.
