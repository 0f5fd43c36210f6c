%% The benchmark's instruments work: the load generator runs for a second
%% against the C echo server and against an in-VM gen_socket echo server,
%% and sees every byte come back right.
-module(gen_socket_bench_tests).
-include_lib("eunit/include/eunit.hrl").

loadgen_test_() ->
    {setup, fun gs_test_lib:start/0,
     [{"loadgen vs C echo server", {timeout, 60, fun c_server/0}},
      {"loadgen vs gen_socket echo", {timeout, 60, fun gen_socket_server/0}}]}.

bin(Name) ->
    filename:join([filename:dirname(code:which(?MODULE)), "..", "bench", "bin", Name]).

c_server() ->
    Port = free_port(),
    Marker = "gs_bench_test_" ++ integer_to_list(Port),
    os:cmd("sh -c '" ++ bin("echo_server") ++ " " ++ integer_to_list(Port) ++
               " 1 " ++ Marker ++ " >/dev/null 2>&1 &'"),
    ok = wait_listening(Port, 200),
    R = loadgen(Port, 20, 512, 2),
    os:cmd("pkill -9 -f " ++ Marker),
    check(R).

gen_socket_server() ->
    {ok, L} = gen_socket:listen(0, [binary, {active, false}, {backlog, 128}]),
    {ok, Port} = inet:port(L),
    Acc = spawn_link(fun() -> acceptor(L) end),
    R = loadgen(Port, 20, 3000, 4),
    unlink(Acc),
    exit(Acc, kill),
    gen_socket:close(L),
    check(R).

check(R) ->
    ?assertEqual(0, proplists:get_value(errors, R)),
    ?assert(proplists:get_value(msgs, R) > 0),
    ?assert(proplists:get_value(p99_us, R) >= proplists:get_value(p50_us, R)).

acceptor(L) ->
    {ok, S} = gen_socket:accept(L),
    spawn(fun() -> acceptor(L) end),
    echo(S).

echo(S) ->
    case gen_socket:recv(S, 0) of
        {ok, D} -> ok = gen_socket:send(S, D), echo(S);
        _ -> gen_socket:close(S)
    end.

loadgen(Port, Conns, Size, Depth) ->
    Out = os:cmd(io_lib:format("~s 127.0.0.1 ~b ~b ~b ~b 1",
                               [bin("loadgen"), Port, Conns, Size, Depth])),
    [{list_to_atom(K), num(V)} || KV <- string:tokens(Out, " \n"),
                                  [K, V] <- [string:tokens(KV, "=")]].

num(V) ->
    case string:to_float(V) of
        {F, []} -> F;
        _ -> list_to_integer(V)
    end.

free_port() ->
    {ok, L} = gen_tcp:listen(0, [{reuseaddr, true}]),
    {ok, P} = inet:port(L),
    gen_tcp:close(L),
    P.

wait_listening(_Port, 0) -> timeout;
wait_listening(Port, N) ->
    case gen_tcp:connect({127, 0, 0, 1}, Port, [], 100) of
        {ok, S} -> gen_tcp:close(S), ok;
        _ -> timer:sleep(25), wait_listening(Port, N - 1)
    end.
