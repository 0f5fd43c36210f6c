%% Echo servers for the benchmark, one OS process each:
%%   erl -noshell -pa ebin -pa bench/bin -run gs_bench_server main BACKEND MODE PORT
%% BACKEND: gen_socket | gen_tcp | gen_tcp_buf | gen_tcp_socket | socket
%% MODE:    passive | once | multi | true
%% A process per connection, as in the original gen_socket's echo server:
%% each handler accepts, hands the listener to a fresh acceptor, and echoes.
-module(gs_bench_server).

-export([main/1]).

-define(BACKLOG, 1024).

-spec main([string()]) -> no_return().
main([Backend, Mode, Port]) ->
    B = list_to_atom(Backend),
    M = list_to_atom(Mode),
    B =:= gen_socket andalso (ok = application:start(gen_socket)),
    L = listen(B, list_to_integer(Port)),
    [spawn(fun() -> acceptor(B, M, L) end) || _ <- lists:seq(1, 4)],
    receive stop -> halt(0) end.

listen(socket, Port) ->
    {ok, L} = socket:open(inet, stream, tcp),
    ok = socket:setopt(L, {socket, reuseaddr}, true),
    ok = socket:bind(L, #{family => inet, addr => loopback, port => Port}),
    ok = socket:listen(L, ?BACKLOG),
    L;
listen(B, Port) ->
    {Mod, Opts} = mod_opts(B),
    {ok, L} = Mod:listen(Port, Opts ++ [binary, {active, false}, {reuseaddr, true},
                                        {backlog, ?BACKLOG}]),
    L.

mod_opts(gen_socket) -> {gen_socket, []};
mod_opts(gen_tcp) -> {gen_tcp, []};
mod_opts(gen_tcp_buf) -> {gen_tcp, [{buffer, 65536}]};
mod_opts(gen_tcp_socket) -> {gen_tcp, [{inet_backend, socket}]}.

acceptor(socket, M, L) ->
    {ok, S} = socket:accept(L),
    spawn(fun() -> acceptor(socket, M, L) end),
    socket_loop(S);
acceptor(B, M, L) ->
    {Mod, _} = mod_opts(B),
    {ok, S} = Mod:accept(L),
    spawn(fun() -> acceptor(B, M, L) end),
    serve(Mod, M, S).

socket_loop(S) ->
    case socket:recv(S, 0) of
        {ok, D} -> ok = socket:send(S, D), socket_loop(S);
        {error, _} -> socket:close(S)
    end.

serve(Mod, passive, S) ->
    passive(Mod, S);
serve(Mod, once, S) ->
    ok = inet:setopts(S, [{active, once}]),
    active(Mod, once, S);
serve(Mod, multi, S) ->
    ok = inet:setopts(S, [{active, 100}]),
    active(Mod, multi, S);
serve(Mod, true, S) ->
    ok = inet:setopts(S, [{active, true}]),
    active(Mod, true, S).

passive(Mod, S) ->
    case Mod:recv(S, 0) of
        {ok, D} -> ok = Mod:send(S, D), passive(Mod, S);
        {error, _} -> Mod:close(S)
    end.

active(Mod, M, S) ->
    receive
        {tcp, S, D} ->
            ok = Mod:send(S, D),
            M =:= once andalso inet:setopts(S, [{active, once}]),
            active(Mod, M, S);
        {tcp_passive, S} ->
            ok = inet:setopts(S, [{active, 100}]),
            active(Mod, M, S);
        {tcp_closed, S} ->
            Mod:close(S);
        {tcp_error, S, _} ->
            Mod:close(S)
    end.
