#!/usr/bin/env escript
%% -*- erlang -*-
%% The cowboy "hello" benchmark: cowboy 2.18 on ranch 2.2 (pinned in
%% ../../shared/thirdparty, compiled by gs_stack_lib into /tmp), once
%% with ranch_tcp and once with gen_socket_ranch, driven by wrk over
%% loopback keep-alive connections.  Servers interleaved (A B A B ..)
%% for ROUNDS rounds, each run a fresh VM; medians written to
%% results/cowboy.md.
%%   escript cowboy.escript
-mode(compile).

-define(ROUNDS, 5).
-define(SECS, 3).
-define(SERVERS, [ranch_tcp, gen_socket_ranch]).
%% {Connections, wrk threads}
-define(CASES, [{10, 1}, {200, 1}]).

main(_) ->
    true = code:add_patha("bin"),
    Ebins = gs_stack_lib:thirdparty(),
    T0 = erlang:monotonic_time(second),
    Runs = [{C, S, run_one(S, C, Ebins)}
            || C <- ?CASES, _ <- lists:seq(1, ?ROUNDS), S <- ?SERVERS],
    Elapsed = erlang:monotonic_time(second) - T0,
    Doc = report(Runs, Elapsed),
    ok = file:write_file("results/cowboy.md", Doc),
    io:format("~s", [Doc]).

cores() -> erlang:system_info(logical_processors_available).

run_one(Server, {Conns, Threads}, Ebins) ->
    Args = ["+S", integer_to_list(cores()), "-noshell", "-pa", "../ebin", "-pa", "bin"]
        ++ lists:append([["-pa", E] || E <- Ebins])
        ++ ["-run", "gs_cowboy_bench", "main", atom_to_list(Server)],
    P = open_port({spawn_executable, os:find_executable("erl")},
                  [{args, Args}, {line, 1024}, exit_status, stderr_to_stdout, binary]),
    R = case ready(P) of
            {ok, Port} ->
                Out = os:cmd(lists:flatten(
                               io_lib:format("wrk -t~b -c~b -d~bs --latency "
                                             "http://127.0.0.1:~b/hello",
                                             [Threads, Conns, ?SECS, Port]))),
                parse(Out);
            Error ->
                [{error, Error}]
        end,
    stop(P),
    io:format("~4b conns  ~-18s ~10s req/s  p50 ~8s  p99 ~8s  errors ~p~n",
              [Conns, Server, fmt(get(rps, R)), get(p50, R), get(p99, R),
               get(errors, R)]),
    R.

ready(P) ->
    receive
        {P, {data, {eol, <<"READY ", N/binary>>}}} -> {ok, binary_to_integer(N)};
        {P, {data, _}} -> ready(P);
        {P, {exit_status, St}} -> {exited, St}
    after 30000 -> not_ready
    end.

%% Closing its stdin ends the server; one that does not is killed by
%% its OS pid.
stop(P) ->
    {os_pid, Pid} = erlang:port_info(P, os_pid),
    port_close(P),
    case os:cmd("kill -0 " ++ integer_to_list(Pid) ++ " 2>/dev/null && echo alive") of
        "alive\n" ->
            timer:sleep(500),
            os:cmd("kill -9 " ++ integer_to_list(Pid) ++ " 2>/dev/null");
        _ -> ok
    end.

%% Requests/sec, the 50 % and 99 % latencies (--latency), and errors
%% (socket errors and non-2xx/3xx responses).
parse(Out) ->
    Lines = string:tokens(Out, "\n"),
    Words = [string:tokens(L, " \t") || L <- Lines],
    Rps = [list_to_float(V) || ["Requests/sec:", V] <- Words],
    P50 = [V || ["50%", V] <- Words],
    P99 = [V || ["99%", V] <- Words],
    Sock = [lists:sum([list_to_integer(string:trim(X, both, ",")) || X <- Xs,
                       is_num(string:trim(X, both, ","))])
            || ["Socket", "errors:" | Xs] <- Words],
    Non2xx = [list_to_integer(V) || ["Non-2xx", "or", "3xx", "responses:", V] <- Words],
    case Rps of
        [R] -> [{rps, R}, {p50, one(P50)}, {p99, one(P99)},
                {errors, lists:sum(Sock ++ Non2xx)}];
        _ -> [{error, Out}]
    end.

is_num(S) -> S =/= [] andalso lists:all(fun(C) -> C >= $0 andalso C =< $9 end, S).

one([V]) -> V;
one(_) -> "?".

get(K, R) -> proplists:get_value(K, R).

fmt(undefined) -> "-";
fmt(F) when is_float(F) -> integer_to_list(round(F));
fmt(X) -> io_lib:format("~p", [X]).

median(L) -> lists:nth((length(L) + 1) div 2, lists:sort(L)).

%% Latency strings as wrk prints them (e.g. 1.23ms, 456.00us) in us.
us(S) ->
    {Num, Unit} = lists:splitwith(fun(C) -> (C >= $0 andalso C =< $9) orelse C =:= $. end, S),
    V = case string:to_float(Num) of
            {F, []} -> F;
            _ -> float(list_to_integer(Num))
        end,
    case Unit of
        "us" -> V;
        "ms" -> V * 1000;
        "s" -> V * 1000000;
        _ -> V
    end.

report(Runs, Elapsed) ->
    Row = fun({Conns, _} = C, S) ->
                  Rs = [R || {C1, S1, R} <- Runs, C1 =:= C, S1 =:= S],
                  Ok = [R || R <- Rs, get(rps, R) =/= undefined],
                  Rps = median([get(rps, R) || R <- Ok]),
                  {S, Rps,
                   io_lib:format("| ~b | ~s | ~s | ~s | ~s | ~b | ~b of ~b |~n",
                                 [Conns, S, fmt(Rps),
                                  fmt(median([us(get(p50, R)) || R <- Ok])),
                                  fmt(median([us(get(p99, R)) || R <- Ok])),
                                  lists:sum([get(errors, R) || R <- Ok]),
                                  length(Ok), length(Rs)])}
          end,
    Table = [[Row(C, S) || S <- ?SERVERS] || C <- ?CASES],
    Ratios = [io_lib:format("- ~b connections: gen_socket_ranch / ranch_tcp = ~.2f~n",
                            [Conns, G / T])
              || {{Conns, _}, [{_, T, _}, {_, G, _}]} <- lists:zip(?CASES, Table)],
    ["# cowboy \"hello\" with wrk: gen_socket_ranch against ranch_tcp\n\n",
     io_lib:format("Made by `make bench` (bench/cowboy.escript; alone: `make -C bench cowboy`): "
                   "cowboy 2.18 on ranch 2.2 from ../shared/thirdparty, a handler answering "
                   "`GET /hello` with 12 bytes, each server a fresh VM (`+S ~b`, "
                   "the cowboy:start_clear/3 options: dynamic buffer, a supervisor per connection) "
                   "listening on 127.0.0.1; "
                   "`wrk -t1 -cN -d~bs --latency` over keep-alive connections; "
                   "servers interleaved (ranch_tcp, gen_socket_ranch, ranch_tcp, ...), "
                   "~b rounds, medians shown; ~b s in all. "
                   "On this 2-core machine wrk takes one core, and the machine is shared with other work: single runs vary by tens of per cent, compare medians.~n~n",
                   [cores(), ?SECS, ?ROUNDS, Elapsed]),
     "| connections | transport | requests/s | p50 latency (us) | p99 latency (us) | errors | runs ok |\n",
     "| --- | --- | --- | --- | --- | --- | --- |\n",
     [[Line || {_, _, Line} <- Rows] || Rows <- Table],
     "\n", Ratios].
