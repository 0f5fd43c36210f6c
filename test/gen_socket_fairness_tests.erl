%% Fair dispatch (issue 8, ARCHITECTURE rules 11 and 12): a peer that
%% writes as fast as loopback allows must not stall the scheduler its
%% socket's pollset runs on, nor flood the owner's mailbox, nor hold up
%% other sockets of the same pollset; a close that lingers must not stall
%% the other sockets of its pollset.
%%
%% Each scenario measures, while a peer blasts one socket:
%%   gap   the largest gap seen by a process ticking every 10 ms,
%%   queue the longest message queue of the blasted socket's owner,
%%   echo  the longest 1-byte echo (send + recv) on another socket pair of
%%         the same pollset,
%% and checks the bounds issue 8 names: gap =< 100 ms, queue < 256,
%% echo =< 100 ms (a send is never held for more than a round), and that
%% every byte the peer sent arrived.  The bounds are behaviour, not speed.
%% The +S 1 runs happen in a child VM (`erl +S 1`) with the peer in this
%% VM; the others in this VM, in whatever configuration it runs.
-module(gen_socket_fairness_tests).

-include_lib("eunit/include/eunit.hrl").
-include("../src/gen_socket_int.hrl").

-export([child/1, child_run/2, scenario/4, local_peer/2, blast_port/1]).

blast_port(P) -> blast(P, 3000).

-define(TICK, 10).
-define(MAX_GAP, 100).
-define(MAX_QUEUE, 256).
-define(MAX_ECHO, 100).
-define(CHUNK, 65536).


modes() -> [true, {n, 16}, once, passive].


%% ---- +S 1, in a child VM ----------------------------------------------

single_scheduler_test_() ->
    {timeout, 240,
     fun() ->
             Scenarios = [{gen_socket, M, 4000} || M <- modes()] ++
                 [{gen_tcp, true, 4000}],
             Rs = child_run(Scenarios),
             io:format(user, "~n+S 1: ~p~n", [Rs]),
             %% A bound missed may be the machine (another program took
             %% the core): that scenario runs again, up to three times.
             [check(retry(R, fun() -> [A] = child_run([{Mod, Mode, 4000}]), A end,
                          true, 2), true)
              || {Mod, Mode, _} = R <- Rs]
     end}.

%% ---- +S 2, in a child VM, the peer in this VM ------------------------------

%% Two schedulers: the owner may run beside the poller, and a socket op
%% from the other scheduler competes with back-to-back rounds for the
%% pollset mutex (before gs_pollset_lock_op: gaps and echoes of 0.5-0.9 s).
%% The queue is not bounded here ({active, true}, see own_config_test_).
two_schedulers_test_() ->
    {timeout, 120,
     fun() ->
             Run = fun() -> [R] = child_run([{gen_socket, true, 3000}], ["+S", "2"]), R end,
             R = Run(),
             io:format(user, "~n+S 2: ~p~n", [R]),
             check(retry(R, Run, false, 2), false)
     end}.

%% ---- the configuration this VM runs in -----------------------------------

%% The owner may run on another scheduler than the poller here, in
%% parallel: {active, true} has no flow control (gen_tcp's neither), so its
%% queue is bounded only where the owner shares the poller's scheduler
%% (+S 1 above); the other bounds hold in any configuration.  With every
%% core busy moving the blast (about 1-2 GB/s here), a timing bound can be
%% missed because the OS ran something else: a scenario that misses one
%% runs again, up to three times in all; a real stall misses every time.
own_config_test_() ->
    {timeout, 180,
     fun() ->
             gs_test_lib:start(),
             Run = fun(M) -> scenario(gen_socket, M, 2000, fun local_peer/2) end,
             Rs = [Run(M) || M <- modes()],
             io:format(user, "~nown config: ~p~n", [Rs]),
             [check(retry(R, fun() -> Run(Mode) end, Mode =/= true, 2),
                    Mode =/= true)
              || {_, Mode, _} = R <- Rs]
     end}.

retry(R, _Again, _CheckQueue, 0) ->
    R;
retry(R, Again, CheckQueue, N) ->
    case bounds(R, CheckQueue) of
        [] -> R;
        Missed ->
            R2 = Again(),
            io:format(user, "missed ~p, again: ~p~n", [Missed, R2]),
            retry(R2, Again, CheckQueue, N - 1)
    end.

%% The bounds a result misses.
bounds({_Mod, _Mode, Res}, CheckQueue) ->
    [K || {K, Max} <- [{gap, ?MAX_GAP}, {echo, ?MAX_ECHO}] ++
              [{queue, ?MAX_QUEUE - 1} || CheckQueue],
          proplists:get_value(K, Res) > Max].

check({Mod, Mode, Res} = R, CheckQueue) ->
    Sent = proplists:get_value(sent, Res),
    Got = proplists:get_value(got, Res),
    Ticks = proplists:get_value(ticks, Res),
    Echoes = proplists:get_value(echoes, Res),
    Ctx = {Mod, Mode, Res},
    ?assert(is_integer(Sent) andalso Sent >= 10 * ?CHUNK),
    ?assertEqual({Ctx, Sent}, {Ctx, Got}),
    ?assert(Ticks > 0 andalso Echoes > 0),
    ?assertEqual({Ctx, []}, {Ctx, bounds(R, CheckQueue)}).

%% ---- the child VM ----------------------------------------------------------

%% Starts `erl +S 1` running child(Scenarios); blasts each scenario's
%% listen port from here when the child names it; returns the results.
child_run(Scenarios) ->
    child_run(Scenarios, ["+S", "1"]).

child_run(Scenarios, Flags) ->
    Erl = os:find_executable("erl"),
    Ebin = filename:dirname(code:which(gen_socket)),
    Test = filename:dirname(code:which(?MODULE)),
    Eval = lists:flatten(io_lib:format("~p:child(~w)", [?MODULE, Scenarios])),
    P = open_port({spawn_executable, Erl},
                  [{args, Flags ++ ["-noshell", "-pa", Ebin, "-pa", Test,
                                    "-eval", Eval]},
                   {line, 65536}, exit_status, stderr_to_stdout]),
    child_loop(P, [], []).

child_loop(P, Blasters, Acc) ->
    receive
        {P, {data, {eol, Line}}} ->
            case parse(Line) of
                {port, Port} ->
                    Self = self(),
                    B = spawn_link(fun() -> Self ! {sent, self(), blast(Port)} end),
                    child_loop(P, [B | Blasters], Acc);
                {result, Mod, linger, Res} ->
                    child_loop(P, Blasters, [{Mod, linger, Res} | Acc]);
                {result, Mod, Mode, Res} ->
                    [B | Rest] = Blasters,
                    Sent = receive {sent, B, N} -> N after 30000 -> no_count end,
                    child_loop(P, Rest, [{Mod, Mode, [{sent, Sent} | Res]} | Acc]);
                done ->
                    receive {P, {exit_status, _}} -> ok after 5000 -> ok end,
                    lists:reverse(Acc);
                _ ->
                    io:format(user, "child: ~s~n", [Line]),
                    child_loop(P, Blasters, Acc)
            end;
        {P, {data, {noeol, Line}}} ->
            io:format(user, "child: ~s", [Line]),
            child_loop(P, Blasters, Acc);
        {P, {exit_status, St}} ->
            erlang:error({child_exited, St, lists:reverse(Acc)})
    after 60000 ->
            catch port_close(P),
            erlang:error({child_timeout, lists:reverse(Acc)})
    end.

parse(Line) ->
    case erl_scan:string(Line ++ ".") of
        {ok, Toks, _} ->
            case erl_parse:parse_term(Toks) of
                {ok, T} -> T;
                _ -> Line
            end;
        _ -> Line
    end.

-spec child([{module(), term(), pos_integer()}]) -> no_return().
child(Scenarios) ->
    try
        gs_test_lib:start(),
        lists:foreach(
          fun({Mod, linger, _}) ->
                  io:format("~w~n", [{result, Mod, linger, linger_close(Mod)}]);
             ({Mod, Mode, Dur}) ->
                  {Mod, Mode, Res} =
                      scenario(Mod, Mode, Dur,
                               fun(Port, _) -> io:format("~w~n", [{port, Port}]) end),
                  io:format("~w~n", [{result, Mod, Mode, Res}])
          end, Scenarios),
        io:format("done~n"),
        halt(0)
    catch C:E:St ->
            io:format("~p~n", [{child_crashed, C, E, St}]),
            halt(1)
    end.

%% ---- one scenario ----------------------------------------------------------

%% The peer: connects, writes CHUNK-byte binaries for Dur ms, closes.
%% Returns the number of bytes it wrote.
blast(Port) ->
    blast(Port, 4000).

blast(Port, Dur) ->
    {ok, C} = gen_tcp:connect({127, 0, 0, 1}, Port,
                              [binary, {active, false}, {send_timeout, 5000}]),
    Bin = binary:copy(<<"0123456789abcdef">>, ?CHUNK div 16),
    End = erlang:monotonic_time(millisecond) + Dur,
    N = blast_loop(C, Bin, End, 0),
    gen_tcp:close(C),
    N.

blast_loop(C, Bin, End, N) ->
    case erlang:monotonic_time(millisecond) >= End of
        true -> N;
        false ->
            ok = gen_tcp:send(C, Bin),
            blast_loop(C, Bin, End, N + byte_size(Bin))
    end.

local_peer(Port, Dur) ->
    Self = self(),
    spawn_link(fun() -> Self ! {sent, self(), blast(Port, Dur)} end).

%% Runs one scenario in this VM; Peer(Port, Dur) makes a peer blast Port
%% for Dur ms (a local process, whose pid it returns and which reports
%% {sent, Pid, Bytes}, or the parent of a child VM, which counts there).
scenario(Mod, Mode, Dur, Peer) ->
    Opts = [binary, {active, false}, {reuseaddr, true}],
    {ok, L} = Mod:listen(0, Opts),
    {ok, Port} = inet:port(L),
    PeerPid = Peer(Port, Dur),
    {ok, S} = Mod:accept(L, 10000),
    {C2, S2} = same_pollset_pair(Mod, L, Port, S),
    Self = self(),
    Owner = spawn_link(fun() -> owner_start(Mod, S, Mode, Self) end),
    ok = Mod:controlling_process(S, Owner),
    Owner ! go,
    Ticker = spawn_link(fun() -> ticker(now_ms(), 0, 0) end),
    Sampler = spawn_link(fun() -> sampler(Owner, 0) end),
    Echo = spawn_link(fun() -> echo(Mod, C2, S2, 0, 0) end),
    {Got, Q} = receive {owner_done, Owner, G, Q0} -> {G, Q0} after 30000 -> {timeout, 0} end,
    Ticker ! {stop, self()},
    Echo ! {stop, self()},
    Sampler ! {stop, self()},
    {Gap, Ticks} = receive {ticker, Ticker, G1, T1} -> {G1, T1} end,
    TQ = receive {sampler, Sampler, Q1} -> Q1 end,
    {EchoMax, Echoes} = receive {echo, Echo, E1, N1} -> {E1, N1} end,
    %% The owner saw the peer's close, but the peer's count may still be
    %% on its way: wait for this peer's own report.
    Sent = case is_pid(PeerPid) of
               true -> receive {sent, PeerPid, Bytes} -> [{sent, Bytes}]
                       after 30000 -> [{sent, no_count}] end;
               false -> []
           end,
    [Mod:close(X) || X <- [L, C2, S2]],
    {Mod, Mode, Sent ++ [{gap, Gap}, {queue, max(Q, TQ)}, {echo, EchoMax},
                         {got, Got}, {ticks, Ticks}, {echoes, Echoes}]}.

%% A second connected pair whose both ends share S's pollset (gen_tcp has
%% one check-io pollset: any pair will do).
same_pollset_pair(gen_tcp, L, Port, _S) ->
    {ok, C} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    {ok, A} = gen_tcp:accept(L, 5000),
    {C, A};
same_pollset_pair(gen_socket, L, Port, S) ->
    Want = gen_socket:socket_info(S, pollset),
    same_pollset_pair(L, Port, Want, 64, []).

same_pollset_pair(_L, _Port, Want, 0, _) ->
    erlang:error({no_pair_on_pollset, Want});
same_pollset_pair(L, Port, Want, N, Spare) ->
    {ok, C} = gen_socket:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    {ok, A} = gen_socket:accept(L, 5000),
    case {gen_socket:socket_info(C, pollset), gen_socket:socket_info(A, pollset)} of
        {Want, Want} ->
            [gen_socket:close(X) || X <- Spare],
            {C, A};
        _ ->
            %% Least-loaded placement keeps the pollsets level, so make
            %% Want the emptiest by two or more: open a batch of spare
            %% sockets (they spread evenly) and close those that landed on
            %% Want; the next two picks then go to Want.
            Xs = [element(2, gen_socket:listen(0, []))
                  || _ <- lists:seq(1, 4 * erlang:system_info(schedulers))],
            {OnWant, Others} =
                lists:partition(fun(X) -> gen_socket:socket_info(X, pollset) =:= Want end,
                                [C, A | Xs]),
            [gen_socket:close(X) || X <- OnWant],
            same_pollset_pair(L, Port, Want, N - 1, Others ++ Spare)
    end.

now_ms() -> erlang:monotonic_time(millisecond).

set_mode(S, true) -> inet:setopts(S, [{active, true}]);
set_mode(S, {n, N}) -> inet:setopts(S, [{active, N}]);
set_mode(S, once) -> inet:setopts(S, [{active, once}]);
set_mode(_, passive) -> ok.

owner_start(Mod, S, Mode, Parent) ->
    receive go -> ok end,
    ok = set_mode(S, Mode),
    {Got, Q} = owner_loop(Mod, S, Mode, 0, 0),
    Parent ! {owner_done, self(), Got, Q}.

owner_loop(Mod, S, passive, Got, Q) ->
    case Mod:recv(S, 0, 20000) of
        {ok, D} -> owner_loop(Mod, S, passive, Got + byte_size(D), Q);
        {error, closed} -> {Got, Q}
    end;
owner_loop(Mod, S, Mode, Got, Q0) ->
    %% sampled every 16 messages: cheap, and a queue over 256 stays over
    %% it for more than 16 messages
    Q = case Got band (16 * ?CHUNK - 1) of
            0 -> {message_queue_len, QL} = process_info(self(), message_queue_len),
                 max(Q0, QL);
            _ -> Q0
        end,
    receive
        {tcp, S, D} ->
            Mode =:= once andalso inet:setopts(S, [{active, once}]),
            owner_loop(Mod, S, Mode, Got + byte_size(D), Q);
        {tcp_passive, S} ->
            {n, N} = Mode,
            ok = inet:setopts(S, [{active, N}]),
            owner_loop(Mod, S, Mode, Got, Q);
        {tcp_closed, S} ->
            {Got, Q}
    after 20000 ->
            {{stalled, Got}, Q}
    end.

%% The ticker only ticks: a process_info of the owner from here would wait
%% for the owner to handle it (a signal, since OTP 21) and count the
%% owner's delay as a gap.
ticker(Last, Gap, Ticks) ->
    receive
        {stop, P} -> P ! {ticker, self(), Gap, Ticks}
    after ?TICK ->
            Now = now_ms(),
            ticker(Now, max(Gap, Now - Last), Ticks + 1)
    end.

%% The owner's queue, every 10 ms.
sampler(Owner, Q) ->
    receive
        {stop, P} -> P ! {sampler, self(), Q}
    after ?TICK ->
            QL = case process_info(Owner, message_queue_len) of
                     {message_queue_len, L} -> L;
                     undefined -> 0
                 end,
            sampler(Owner, max(Q, QL))
    end.

%% 1-byte echoes on another pair of the same pollset, one every 10 ms.
%% An echo's time runs from the moment it was due (the end of the last one
%% plus the tick), so a timer held up by a stalled scheduler counts too.
echo(Mod, C, S, Max, N) ->
    echo(Mod, C, S, Max, N, now_ms()).

echo(Mod, C, S, Max, N, Last) ->
    receive
        {stop, P} -> P ! {echo, self(), Max, N}
    after ?TICK ->
            ok = Mod:send(C, <<(N rem 256)>>),
            {ok, <<_>>} = Mod:recv(S, 1, 10000),
            Now = now_ms(),
            echo(Mod, C, S, max(Max, Now - Last - ?TICK), N + 1, Now)
    end.

%% ---- a close that lingers ------------------------------------------------

%% A socket with {linger, {true, 3}} and data its peer does not read is
%% closed while another pair of the same pollset echoes: the echoes stay
%% fast during the close and the 3 s the kernel lingers after it (rule 12:
%% no close() under the pollset mutex, none on a scheduler), and the peer
%% sees the connection end once it reads.  The same on gen_tcp.
linger_close_test_() ->
    {timeout, 120,
     fun() ->
             gs_test_lib:start(),
             Rs = [{Mod, linger_close(Mod)} || Mod <- [gen_tcp, gen_socket]],
             io:format(user, "~nlinger close: ~p~n", [Rs]),
             [check_linger(Mod, R, true) || {Mod, R} <- Rs]
     end}.

%% The same with +S 1 (child VM): the closer, the poller and the echoes
%% share the one scheduler, which must not block in close().  (gen_tcp
%% meets it too: gaps of about 20 ms seen; left out to save 8 s.)
linger_single_scheduler_test_() ->
    {timeout, 120,
     fun() ->
             Rs = child_run([{gen_socket, linger, 0}]),
             io:format(user, "~n+S 1 linger close: ~p~n", [Rs]),
             [check_linger(Mod, R, true) || {Mod, linger, R} <- Rs]
     end}.

check_linger(Mod, R, Bounds) ->
    ?assertEqual({Mod, closed}, {Mod, proplists:get_value(peer, R)}),
    ?assert(proplists:get_value(echoes, R) > 100),
    [?assertEqual({Mod, K, ok}, {Mod, K, case proplists:get_value(K, R) of
                                             V when V =< Max -> ok;
                                             V -> V
                                         end})
     || Bounds, {K, Max} <- [{echo, ?MAX_ECHO}, {gap, ?MAX_GAP}]].

linger_close(Mod) ->
    {ok, L} = Mod:listen(0, [binary, {active, false}, {reuseaddr, true}]),
    {ok, Port} = inet:port(L),
    {ok, Peer} = gen_tcp:connect({127, 0, 0, 1}, Port,
                                 [binary, {active, false}, {recbuf, 4096}]),
    {ok, S} = Mod:accept(L, 5000),
    {C2, S2} = same_pollset_pair(Mod, L, Port, S),
    ok = inet:setopts(S, [{linger, {true, 3}}, {send_timeout, 300},
                          {sndbuf, 16384}]),
    Bin = binary:copy(<<"x">>, ?CHUNK),
    fill(Mod, S, Bin, 0),
    Echo = spawn_link(fun() -> echo(Mod, C2, S2, 0, 0) end),
    Ticker = spawn_link(fun() -> ticker(now_ms(), 0, 0) end),
    T0 = now_ms(),
    ok = Mod:close(S),
    Took = now_ms() - T0,
    %% the kernel lingers up to 3 s after the port is gone
    receive after 3500 -> ok end,
    Echo ! {stop, self()},
    Ticker ! {stop, self()},
    {EchoMax, Echoes} = receive {echo, Echo, E1, N1} -> {E1, N1} end,
    Gap = receive {ticker, Ticker, G1, _} -> G1 end,
    PeerEnd = drain(Peer),
    [Mod:close(X) || X <- [L, C2, S2]],
    gen_tcp:close(Peer),
    [{close_ms, Took}, {echo, EchoMax}, {gap, Gap}, {echoes, Echoes},
     {peer, PeerEnd}].

%% Sends until the socket's queues are full (a send times out).
fill(Mod, S, Bin, N) when N < 1000 ->
    case Mod:send(S, Bin) of
        ok -> fill(Mod, S, Bin, N + 1);
        {error, timeout} -> ok
    end.

drain(Peer) ->
    case gen_tcp:recv(Peer, 0, 10000) of
        {ok, _} -> drain(Peer);
        {error, E} -> E
    end.

%% ---- many streams through the budgets --------------------------------------

%% Twelve connections at once, every delivery mode, raw and {packet, 4}
%% (packets up to 1.5 MiB, longer than a service's read budget), sent by
%% gen_tcp and by gen_socket (sends longer than the send budget, drained by
%% dispatch): every byte and packet arrives, in order.
many_streams_test_() ->
    {timeout, 120,
     fun() ->
             gs_test_lib:start(),
             Cases = [{Mode, Packet, Sender}
                      || Mode <- [true, {n, 5}, once, passive], Packet <- [raw, 4],
                         Sender <- [gen_tcp, gen_socket]],
             Self = self(),
             Pids = [spawn_link(fun() -> Self ! {stream, self(), C, stream(C, I)} end)
                     || {C, I} <- lists:zip(Cases, lists:seq(1, length(Cases)))],
             Rs = [receive {stream, P, C, R} -> {C, R} after 100000 -> timeout end
                   || P <- Pids],
             ?assertEqual([{C, ok} || C <- Cases], Rs)
     end}.

stream({Mode, Packet, Sender}, Seed) ->
    Parts = parts(Packet, Seed),
    {ok, L} = gen_socket:listen(0, [binary, {active, false}, {reuseaddr, true}]),
    {ok, Port} = inet:port(L),
    _ = spawn_link(fun() -> send_all(Sender, Port, Packet, Parts) end),
    {ok, S} = gen_socket:accept(L, 20000),
    gen_socket:close(L),
    ok = inet:setopts(S, [{packet, Packet}]),
    ok = set_mode(S, Mode),
    Got = receive_all(S, Mode, []),
    gen_socket:close(S),
    case Packet of
        raw when is_list(Got) ->
            same(iolist_to_binary(Got), iolist_to_binary(Parts));
        4 when Got =:= Parts -> ok;
        _ when is_list(Got) -> {packets_differ, length(Got), length(Parts)};
        _ -> Got
    end.

same(B, B) -> ok;
same(A, B) -> {bytes_differ, byte_size(A), byte_size(B), binary:longest_common_prefix([A, B])}.

parts(Packet, Seed) ->
    rand:seed(exsss, {Seed, 7, 11}),
    Max = case Packet of raw -> 200000; 4 -> 1536 * 1024 end,
    [binary:copy(<<(rand:uniform(256) - 1)>>, rand:uniform(Max))
     || _ <- lists:seq(1, 12)].

send_all(Mod, Port, Packet, Parts) ->
    {ok, C} = Mod:connect({127, 0, 0, 1}, Port,
                          [binary, {active, false}, {packet, Packet}]),
    [ok = Mod:send(C, P) || P <- Parts],
    ok = Mod:close(C).

receive_all(S, passive, Acc) ->
    case gen_socket:recv(S, 0, 20000) of
        {ok, D} -> receive_all(S, passive, [D | Acc]);
        {error, closed} -> lists:reverse(Acc)
    end;
receive_all(S, Mode, Acc) ->
    receive
        {tcp, S, D} ->
            Mode =:= once andalso inet:setopts(S, [{active, once}]),
            receive_all(S, Mode, [D | Acc]);
        {tcp_passive, S} ->
            {n, N} = Mode,
            ok = inet:setopts(S, [{active, N}]),
            receive_all(S, Mode, Acc);
        {tcp_closed, S} ->
            lists:reverse(Acc)
    after 20000 ->
            {stalled, length(Acc)}
    end.

%% ---- a pollset whose index is taken ----------------------------------------

%% POLLER_START for a scheduler that already has a pollset: the new pollset
%% starts its watcher thread, finds the index registered, stops and joins
%% the thread and frees itself (it is never registered, so no pick can
%% have it).  Fifty times: eexist each time, no thread or fd left over.
pollset_index_taken_test() ->
    gs_test_lib:start(),
    Threads = gs_test_lib:thread_count(),
    Fds = gs_test_lib:fd_count(),
    Rs = [begin
              P = open_port({spawn_driver, ?GS_DRIVER}, [binary]),
              R = erlang:port_control(P, ?GS_REQ_POLLER_START, <<1:32>>),
              port_close(P),
              R
          end || _ <- lists:seq(1, 50)],
    ?assertEqual([<<?GS_REP_ERROR, "eexist">>], lists:usort(Rs)),
    ?assertEqual({Threads, Fds}, {gs_test_lib:thread_count(), gs_test_lib:fd_count()}).
