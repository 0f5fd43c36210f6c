#!/usr/bin/env escript
%% -*- erlang -*-
%% Idle-connection memory: gen_tcp and gen_socket, each in fresh VMs
%% (3 rounds, interleaved), 8,000 loopback connections (16,000 sockets,
%% both ends in the measured VM), one 100-byte exchange each way, then
%% idle.  Writes results/idle-memory.md with the medians.
%%   escript idle.escript [Connections]
-mode(compile).

main([]) -> main(["8000"]);
main([NS]) ->
    N = list_to_integer(NS),
    Runs = [{M, run(M, N)} || _ <- [1, 2, 3], M <- [gen_tcp, gen_socket]],
    Rows = [{M, median_row([R || {M2, R} <- Runs, M2 =:= M])}
            || M <- [gen_tcp, gen_socket]],
    Doc = report(N, Rows),
    ok = file:write_file("results/idle-memory.md", Doc),
    io:format("~s", [Doc]).

run(Mod, N) ->
    Cmd = lists:flatten(io_lib:format(
            "erl +P 100000 -noshell -pa ../ebin -pa bin -run gs_idle_mem main ~p ~p",
            [Mod, N])),
    Out = os:cmd(Cmd),
    Term = lists:last([bad | [T || L <- string:tokens(Out, "\n"),
                                   {ok, Toks, _} <- [erl_scan:string(L)],
                                   {ok, T} <- [erl_parse:parse_term(Toks)]]]),
    case Term of
        {Mod, N, Res} -> proplists:get_value(after_traffic, Res);
        _ -> erlang:error({bad_output, Mod, Out})
    end.

median_row(Rs) ->
    [{K, median([proplists:get_value(K, R) || R <- Rs])} || K <- [total, system, rss]].

median(L) -> lists:nth((length(L) + 1) div 2, lists:sort(L)).

report(N, Rows) ->
    Line = fun({M, R}) ->
                   io_lib:format("| ~p | ~s | ~s | ~s | ~b | ~b |~n",
                                 [M, mb(get(total, R)), mb(get(system, R)),
                                  mb(get(rss, R)),
                                  get(total, R) div (2 * N),
                                  get(rss, R) div (2 * N)])
           end,
    [T, S] = [get(total, R) || {_, R} <- Rows],
    [RT, RS] = [get(rss, R) || {_, R} <- Rows],
    ["# Idle connections: memory\n\n",
     io_lib:format("~b loopback connections (~b sockets, both ends in the measured VM), "
                   "one 100-byte exchange each way, then idle; growth over the fresh VM, "
                   "median of 3 runs each (`make bench`, bench/idle.escript).~n~n", [N, 2 * N]),
     "| module | erlang:memory(total) | of which system | VM RSS | bytes/socket (total) | bytes/socket (RSS) |\n",
     "| --- | --- | --- | --- | --- | --- |\n",
     [Line(R) || R <- Rows],
     io_lib:format("~ngen_socket / gen_tcp: ~.2f of the Erlang-side memory, ~.2f of the RSS.~n",
                   [S / T, RS / RT]),
     "An idle gen_socket socket holds no receive buffer (reads go through its "
     "pollset's 64 KiB scratch buffer); what remains is the port and the "
     "socket struct with its two libev watchers.\n"].

get(K, R) -> proplists:get_value(K, R).

mb(B) -> io_lib:format("~.1f MB", [B / 1048576]).
