#!/usr/bin/env escript
%% -*- erlang -*-
%% The echo benchmark runner: starts each server as its own OS process,
%% drives it with bin/loadgen, interleaves the servers (A B C .. A B C ..)
%% for several rounds because the machine is shared and noisy, and writes
%% the medians, the ratios and the targets to results/latest.md and a plot
%% to results/latest.png (a quick run writes results/quick.md and .png
%% instead: latest.md always holds the last full run).
%%   escript run.escript full | quick
-mode(compile).

-define(SECS, 1).

main([Kind]) ->
    {Cases, Servers, Rounds, Scaling} = plan(list_to_atom(Kind)),
    T0 = erlang:monotonic_time(second),
    Results = [{C, S, R, run_one(S, C, erl_flags())}
               || C <- Cases, R <- lists:seq(1, Rounds), S <- Servers],
    ScaleResults = [{C, S, R, run_one(S, C, Flags)}
                    || Scaling, C <- [hd(Cases)], R <- lists:seq(1, Rounds),
                       {Flags, S} <- scale_servers()],
    Elapsed = erlang:monotonic_time(second) - T0,
    report(Kind, Cases, Servers, Results, ScaleResults, Elapsed);
main(_) ->
    io:format("usage: run.escript full | quick~n"),
    halt(2).

%%% ---- the plan ----------------------------------------------------------------

cores() -> erlang:system_info(logical_processors_available).

plan(full) ->
    {cases(), servers(), 3, true};
plan(quick) ->
    {[hd(cases()), lists:nth(3, cases())],
     [S || {Name, _, _} = S <- servers(),
           lists:member(Name, ["gen_socket passive", "gen_tcp passive",
                               "gen_socket {active,N}", "gen_tcp {active,N}",
                               "C epoll, 1 thread"])],
     1, false}.

%% {Label, Connections, Size, Depth}
cases() ->
    [{"100 conns x 64 B", 100, 64, 1},
     {"1000 conns x 64 B", 1000, 64, 1},
     {"50 conns x 16 KiB", 50, 16384, 1},
     {"10 conns x 1 KiB, 16 in flight", 10, 1024, 16}].

%% {Label, erl | c, Args}
servers() ->
    [{"gen_socket passive", erl, "gen_socket passive"},
     {"gen_tcp passive", erl, "gen_tcp passive"},
     {"gen_socket {active,once}", erl, "gen_socket once"},
     {"gen_tcp {active,once}", erl, "gen_tcp once"},
     {"gen_socket {active,N}", erl, "gen_socket multi"},
     {"gen_tcp {active,N}", erl, "gen_tcp multi"},
     {"gen_socket {active,true}", erl, "gen_socket true"},
     {"gen_tcp {active,true}", erl, "gen_tcp true"},
     {"gen_tcp passive {buffer,65536}", erl, "gen_tcp_buf passive"}] ++
    [{"gen_tcp {inet_backend,socket}", erl, "gen_tcp_socket passive"}
     || has_socket()] ++
    [{"socket module", erl, "socket passive"} || has_socket()] ++
    [{"C epoll, 1 thread", c, "1"},
     {"C epoll, 1 thread per core", c, integer_to_list(cores())}].

scale_servers() ->
    [{F, {L ++ " " ++ N, erl, A}}
     || {F, N} <- [{"+S 1:1", "+S1"}, {"+S 2:2", "+S2"}],
        {L, erl, A} <- [{"gen_socket passive", erl, "gen_socket passive"},
                        {"gen_tcp passive", erl, "gen_tcp passive"}]].

has_socket() ->
    code:which(socket) =/= non_existing.

%% The same emulator flags for every Erlang server.
erl_flags() -> "+S " ++ integer_to_list(cores()).

%%% ---- one run -----------------------------------------------------------------

run_one({Label, Type, Args}, {CLabel, Conns, Size, Depth}, Flags) ->
    Port = free_port(),
    Marker = "gs_bench_" ++ integer_to_list(Port),
    Cmd = case Type of
              erl -> "erl " ++ Flags ++ " -noshell -pa ../ebin -pa bin "
                         "-gs_bench " ++ Marker ++
                         " -run gs_bench_server main " ++ Args ++ " " ++
                         integer_to_list(Port);
              c -> "bin/echo_server " ++ integer_to_list(Port) ++ " " ++ Args ++
                       " " ++ Marker
          end,
    os:cmd("sh -c '" ++ Cmd ++ " >/dev/null 2>&1 &'"),
    R = case wait_listening(Port, 200) of
            ok ->
                Out = os:cmd(io_lib:format("bin/loadgen 127.0.0.1 ~b ~b ~b ~b ~b",
                                           [Port, Conns, Size, Depth, ?SECS])),
                parse(Out);
            timeout ->
                [{error, server_did_not_start}]
        end,
    os:cmd("pkill -9 -f '" ++ Marker ++ "'"),
    io:format("~-32s ~-34s ~10s msgs/s  p99 ~6s us  errors ~s~n",
              [CLabel, Label, fmt(get(msgs_per_s, R)), fmt(get(p99_us, R)),
               fmt(get(errors, R))]),
    R.

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

parse(Out) ->
    Line = lists:last(["" | [L || L <- string:tokens(Out, "\n"), L =/= ""]]),
    Pairs = [list_to_tuple(string:tokens(KV, "=")) || KV <- string:tokens(Line, " ")],
    case [{list_to_atom(K), num(V)} || {K, V} <- Pairs] of
        [] -> [{error, Out}];
        R -> R
    end.

num(V) ->
    case string:to_float(V) of
        {F, []} -> F;
        _ -> list_to_integer(V)
    end.

get(K, R) -> proplists:get_value(K, R).

%%% ---- report ----------------------------------------------------------------

median(Xs) ->
    S = lists:sort([X || X <- Xs, is_number(X)]),
    case S of [] -> undefined; _ -> lists:nth((length(S) + 1) div 2, S) end.

med(Results, C, S, K) ->
    median([get(K, R) || {C1, S1, _, R} <- Results, C1 =:= C, S1 =:= S]).

errs(Results, C, S) ->
    lists:sum([case get(errors, R) of undefined -> 1; E -> E end
               || {C1, S1, _, R} <- Results, C1 =:= C, S1 =:= S]).

ratio(A, B) when is_number(A), is_number(B), B > 0 -> A / B;
ratio(_, _) -> undefined.

same_mode_tcp("gen_socket" ++ Rest) -> "gen_tcp" ++ Rest;
same_mode_tcp(_) -> undefined.

report(Kind, Cases, Servers, Results, ScaleResults, Elapsed) ->
    Rows = [{C, S} || C <- Cases, S <- Servers],
    Med = fun(C, S, K) -> med(Results, C, S, K) end,
    ByLabel = fun(_C, L) ->
                      case [S || {SL, _, _} = S <- Servers, SL =:= L] of
                          [] -> undefined;
                          [S | _] -> S
                      end
              end,
    Msgs = fun(C, L) ->
                   case ByLabel(C, L) of
                       undefined -> undefined;
                       S -> Med(C, S, msgs_per_s)
                   end
           end,
    BestTcp = fun(C) ->
                      lists:max([0 | [Med(C, S, msgs_per_s) || {L, _, _} = S <- Servers,
                                      lists:prefix("gen_tcp", L),
                                      is_number(Med(C, S, msgs_per_s))]])
              end,
    Table =
        [["| server | msgs/s | MB/s | p50 us | p99 us | errors | x gen_tcp same mode | x C 1-thread | x best gen_tcp |\n",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"]] ,
    Sections =
        [[io_lib:format("~n### ~s~n~n", [CL]), Table,
          [begin
               M = Med(C, S, msgs_per_s),
               io_lib:format("| ~s | ~s | ~s | ~s | ~s | ~b | ~s | ~s | ~s |~n",
                             [L, fmt(M), fmt(Med(C, S, mb_per_s)),
                              fmt(Med(C, S, p50_us)), fmt(Med(C, S, p99_us)),
                              errs(Results, C, S),
                              fmtx(ratio(M, Msgs(C, same_mode_tcp(L)))),
                              fmtx(ratio(M, Msgs(C, "C epoll, 1 thread"))),
                              fmtx(ratio(M, BestTcp(C)))])
           end || {C1, {L, _, _} = S} <- Rows, C1 =:= C]]
         || {CL, _, _, _} = C <- Cases],
    Scale = scaling(ScaleResults),
    Targets = targets(Cases, Msgs, Med, ByLabel, BestTcp, ScaleResults),
    Header = io_lib:format(
               "# gen_socket echo benchmark (~s)~n~n"
               "- date: ~s~n- machine: ~s, ~b cores~n- OTP ~s, erts ~s~n"
               "- each run: ~b s of load from bin/loadgen (C, epoll, one process, "
               "every byte checked); servers interleaved, ~s; medians shown~n"
               "- Erlang servers: `erl ~s`, a process per connection, options "
               "`[binary, {active, false}, {reuseaddr, true}, {backlog, 1024}]` "
               "then the mode; gen_tcp otherwise at its defaults~n"
               "- whole run: ~b s~n",
               [Kind, date_string(), cpu_model(), cores(),
                erlang:system_info(otp_release), erlang:system_info(version),
                ?SECS, rounds_text(Results), erl_flags(), Elapsed]),
    Log = case file:read_file("results/engine-log.md") of
              {ok, B} -> ["\n", B];
              _ -> []
          end,
    Doc = [Header, "\n## Targets\n\n", Targets, "\n## Results\n", Sections, Scale, Log],
    ok = filelib:ensure_dir("results/x"),
    Base = out_base(Kind),
    ok = file:write_file("results/" ++ Base ++ ".md", Doc),
    io:format("~n~s", [Doc]),
    plot(Base, Cases, Servers, Med).

out_base("full") -> "latest";
out_base(_) -> "quick".

rounds_text(Results) ->
    N = lists:max([R || {_, _, R, _} <- Results]),
    integer_to_list(N) ++ " round(s)".

scaling([]) -> [];
scaling(ScaleResults) ->
    Labels = lists:usort([L || {_, {L, _, _}, _, _} <- ScaleResults]),
    ["\n## Scaling (100 conns x 64 B ping-pong)\n\n| server | msgs/s |\n|---|---:|\n",
     [io_lib:format("| ~s | ~s |~n",
                    [L, fmt(median([get(msgs_per_s, R)
                                    || {_, {L1, _, _}, _, R} <- ScaleResults, L1 =:= L]))])
      || L <- Labels]].

scale_ratio(ScaleResults, Prefix) ->
    M = fun(Suffix) ->
                median([get(msgs_per_s, R) || {_, {L, _, _}, _, R} <- ScaleResults,
                                              L =:= Prefix ++ Suffix])
        end,
    ratio(M(" +S2"), M(" +S1")).

targets(Cases, Msgs, Med, ByLabel, _BestTcp, ScaleResults) ->
    C100 = find_case(Cases, 100, 64, 1),
    C1000 = find_case(Cases, 1000, 64, 1),
    C16k = find_case(Cases, 50, 16384, 1),
    R = fun(undefined, _, _) -> undefined;
           (C, A, B) -> ratio(Msgs(C, A), Msgs(C, B))
        end,
    P99 = fun(undefined, _) -> undefined;
             (C, L) -> case ByLabel(C, L) of undefined -> undefined;
                                             S -> Med(C, S, p99_us) end
          end,
    Rows =
        [{"passive echo, 100 conns: gen_socket / gen_tcp", 1.5,
          R(C100, "gen_socket passive", "gen_tcp passive"), higher},
         {"passive echo, 1000 conns: gen_socket / gen_tcp", 2.0,
          R(C1000, "gen_socket passive", "gen_tcp passive"), higher},
         {"passive, 100 conns: gen_socket / best-tuned gen_tcp ({buffer,65536})", 1.1,
          R(C100, "gen_socket passive", "gen_tcp passive {buffer,65536}"), higher},
         {"passive, 100 conns: gen_socket / C single-thread limit", 0.8,
          R(C100, "gen_socket passive", "C epoll, 1 thread"), higher},
         {"16 KiB, 50 conns: gen_socket / gen_tcp default", 3.0,
          R(C16k, "gen_socket passive", "gen_tcp passive"), higher},
         {"{active,N}, 100 conns: gen_socket / gen_tcp", 1.3,
          R(C100, "gen_socket {active,N}", "gen_tcp {active,N}"), higher},
         {"p99 latency, passive, 100 conns: gen_socket / gen_tcp", 1.0,
          ratio(P99(C100, "gen_socket passive"), P99(C100, "gen_tcp passive")), lower},
         {"scaling: gen_socket +S2 / +S1", 1.6,
          scale_ratio(ScaleResults, "gen_socket passive"), higher}],
    ["| target | goal | measured | |\n|---|---:|---:|---|\n",
     [io_lib:format("| ~s | ~s ~.2f | ~s | ~s |~n",
                    [Name, case Dir of higher -> ">="; lower -> "<=" end, Goal,
                     fmtx(V), verdict(V, Goal, Dir)])
      || {Name, Goal, V, Dir} <- Rows]].

verdict(undefined, _, _) -> "not measured";
verdict(V, G, higher) when V >= G -> "met";
verdict(V, G, lower) when V =< G -> "met";
verdict(_, _, _) -> "short".

find_case(Cases, N, S, D) ->
    case [C || {_, N1, S1, D1} = C <- Cases, {N1, S1, D1} =:= {N, S, D}] of
        [C | _] -> C;
        [] -> undefined
    end.

plot(Base, Cases, Servers, Med) ->
    Dat = [[io_lib:format("\"~s\"", [L]),
            [io_lib:format(" ~s", [fmt0(Med(C, S, msgs_per_s))]) || C <- Cases], "\n"]
           || {L, _, _} = S <- Servers],
    ok = file:write_file("results/" ++ Base ++ ".dat", Dat),
    Series = [io_lib:format("'results/" ++ Base ++ ".dat' using ~b~s title '~s'",
                            [I + 1, case I of 1 -> ":xtic(1)"; _ -> "" end, CL])
              || {I, {CL, _, _, _}} <- lists:zip(lists:seq(1, length(Cases)), Cases)],
    Gp = ["set terminal png size 1400,700 noenhanced\n",
          "set output 'results/" ++ Base ++ ".png'\n",
          "set title 'Echo msgs/s per server (median of the rounds)'\n",
          "set style data histograms\nset style histogram clustered gap 1\n",
          "set style fill solid 0.8 border -1\n",
          "set logscale y\nset ylabel 'msgs/s (log scale)'\n",
          "set xtics rotate by -30 scale 0\nset key outside right top\n",
          "set datafile missing '-'\nset bmargin 9\n",
          "plot ", lists:join(", ", Series), "\n"],
    ok = file:write_file("results/" ++ Base ++ ".gp", Gp),
    io:format("~s", [os:cmd("gnuplot results/" ++ Base ++ ".gp 2>&1")]).

fmt(undefined) -> "-";
fmt(X) when is_float(X), X >= 100 -> integer_to_list(round(X));
fmt(X) when is_float(X) -> float_to_list(X, [{decimals, 2}]);
fmt(X) when is_integer(X) -> integer_to_list(X);
fmt(X) -> io_lib:format("~p", [X]).

fmt0(undefined) -> "-";
fmt0(X) -> fmt(X).

fmtx(undefined) -> "-";
fmtx(X) -> float_to_list(X, [{decimals, 2}]) ++ "x".

date_string() ->
    {{Y, Mo, D}, {H, Mi, _}} = calendar:universal_time(),
    io_lib:format("~4..0b-~2..0b-~2..0b ~2..0b:~2..0b UTC", [Y, Mo, D, H, Mi]).

cpu_model() ->
    case file:read_file("/proc/cpuinfo") of
        {ok, B} ->
            case re:run(B, "model name\\s*:\\s*([^\\n]*)", [{capture, all_but_first, list}]) of
                {match, [M]} -> M;
                _ -> "unknown cpu"
            end;
        _ -> "unknown cpu"
    end.
