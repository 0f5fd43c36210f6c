%% Lifecycle: any scheduler layout, schedulers going offline under
%% traffic, pollset teardown (application stop, a poller killed), start on
%% first use in a VM that never started gen_socket, and a node that stops
%% while an acceptor pool restarts against a stopped gen_socket.
%%
%% Scenarios that need their own VM (a +S layout, a fresh node, init:stop)
%% run in a child `erl' started with open_port: it runs child_main/0, which
%% applies {M, F, A} from its plain arguments and prints the result term.
-module(gen_socket_lifecycle_tests).
-include_lib("eunit/include/eunit.hrl").
-compile([export_all, nowarn_export_all]).

-define(P, [binary, {active, false}]).
-define(CHILD_TIMEOUT, 120000).

lifecycle_test_() ->
    {inorder,
     [{"every +S layout starts, serves every pollset and stops",
       {timeout, 300, fun layouts/0}},
      {"schedulers going offline and online under traffic",
       {timeout, 300, fun online_changes/0}},
      {"application stop ends every socket as a dying gen_tcp port",
       {timeout, 60, fun app_stop_teardown/0}},
      {"sockets stay dead after a restart",
       {timeout, 60, fun dead_after_restart/0}},
      {"a killed poller ends its sockets, the others go on",
       {timeout, 60, fun poller_killed/0}},
      {"no setup call: a fresh VM, concurrent first calls",
       {timeout, 120, fun no_setup/0}},
      {"init:stop with an acceptor pool restarting against gen_socket",
       {timeout, 120, fun stop_with_acceptor_pool/0}}]}.

%%% ---- child VMs -------------------------------------------------------------

%% Runs M:F(A...) in a child VM with extra emulator flags; returns
%% {Result, Output} where Output is everything the child printed.
child(Flags, M, F, A) ->
    {Result, Output, _Ms} = child_timed(Flags, M, F, A),
    {Result, Output}.

child_timed(Flags, M, F, A) ->
    Erl = os:find_executable("erl"),
    Ebin = filename:absname(filename:dirname(code:which(gen_socket))),
    Test = filename:absname(filename:dirname(code:which(?MODULE))),
    Arg = binary_to_list(base64:encode(term_to_binary({M, F, A}))),
    Args = Flags ++ ["-noshell", "-pa", Ebin, "-pa", Test,
                     "-eval", "gen_socket_lifecycle_tests:child_main()",
                     "-extra", Arg],
    Port = open_port({spawn_executable, Erl},
                     [{args, Args}, exit_status, binary, stderr_to_stdout,
                      {line, 65536}]),
    {os_pid, OsPid} = erlang:port_info(Port, os_pid),
    T0 = erlang:monotonic_time(millisecond),
    collect_child(Port, OsPid, T0, [], []).

collect_child(Port, OsPid, T0, Line, Acc) ->
    receive
        {Port, {data, {noeol, D}}} ->
            collect_child(Port, OsPid, T0, [D | Line], Acc);
        {Port, {data, {eol, D}}} ->
            L = iolist_to_binary(lists:reverse([D | Line])),
            collect_child(Port, OsPid, T0, [], [L | Acc]);
        {Port, {exit_status, St}} ->
            Ms = erlang:monotonic_time(millisecond) - T0,
            Lines = lists:reverse(Acc),
            Res = [binary_to_term(base64:decode(R))
                   || <<"RESULT:", R/binary>> <- Lines],
            case {St, Res} of
                {0, [R]} -> {R, Lines, Ms};
                _ -> erlang:error({child_failed, St, Lines})
            end
    after ?CHILD_TIMEOUT ->
            os:cmd("kill -9 " ++ integer_to_list(OsPid)),
            erlang:error({child_hung, lists:reverse(Acc)})
    end.

child_main() ->
    [Arg] = init:get_plain_arguments(),
    {M, F, A} = binary_to_term(base64:decode(Arg)),
    R = try apply(M, F, A) catch C:E:St -> {crashed, C, E, St} end,
    io:format("RESULT:~s~n", [base64:encode(term_to_binary(R))]),
    halt(0).

banners(Output) ->
    length([L || L <- Output, binary:match(L, <<"BindPoller=">>) =/= nomatch]).

%%% ---- scheduler layouts -----------------------------------------------------

%% The full suite runs under each layout by hand and in CI (Makefile);
%% here each starts (that alone hung before), serves a socket on every
%% pollset, moves no process onto an offline scheduler, and stops.
layouts() ->
    [begin
         {R, _} = child(["+S", S], ?MODULE, layout_child, []),
         ?assertEqual({S, ok}, {S, R})
     end || S <- ["1", "2", "3", "4", "8", "4:2", "2:1"]].

layout_child() ->
    ok = application:start(gen_socket),
    N = erlang:system_info(schedulers),
    N = length(gen_socket:info()),
    %% round robin: one socket pair on every pollset, echoing
    application:set_env(gen_socket, bind_socket_policy, 2),
    ok = application:stop(gen_socket),
    ok = application:start(gen_socket),
    ok = echo_on_every_pollset(N),
    %% policy 1 moves the caller: never onto an offline scheduler
    ok = application:stop(gen_socket),
    application:set_env(gen_socket, bind_socket_policy, 1),
    ok = application:start(gen_socket),
    ok = echo_on_every_pollset(N),
    0 = erlang:process_flag(scheduler, 0),
    ok = application:stop(gen_socket).

echo_on_every_pollset(N) ->
    {ok, L} = gen_socket:listen(0, ?P),
    {ok, Port} = inet:port(L),
    Pairs = [begin
                 {ok, C} = gen_socket:connect({127, 0, 0, 1}, Port, ?P),
                 {ok, S} = gen_socket:accept(L, 5000),
                 {C, S}
             end || _ <- lists:seq(1, N)],
    Used = lists:usort([gen_socket:socket_info(X, pollset) || {C, S} <- Pairs, X <- [C, S]]),
    Used = case application:get_env(gen_socket, bind_socket_policy) of
               {ok, 2} -> lists:seq(1, N);
               _ -> Used
           end,
    [begin
         ok = gen_socket:send(C, <<"ping">>),
         {ok, <<"ping">>} = gen_socket:recv(S, 4, 5000),
         ok = gen_socket:send(S, <<"pong">>),
         {ok, <<"pong">>} = gen_socket:recv(C, 4, 5000),
         gen_socket:close(C), gen_socket:close(S)
     end || {C, S} <- Pairs],
    gen_socket:close(L),
    ok.

%%% ---- schedulers online changed under traffic --------------------------------

online_changes() ->
    [begin
         {R, _} = child(["+S", "4"], ?MODULE, online_child, [Policy]),
         ?assertEqual({Policy, ok}, {Policy, R})
     end || Policy <- [1, 2]].

%% Echo pairs on every pollset (passive, once, true and N on the server
%% side), each client checking every reply, while schedulers_online goes
%% 4 -> 1 -> 4 -> 2 -> 1 -> 3 -> 4; after each change every client must
%% make progress.
online_child(Policy) ->
    N = erlang:system_info(schedulers),
    erlang:system_flag(schedulers_online, N),
    application:set_env(gen_socket, bind_socket_policy, Policy),
    ok = application:start(gen_socket),
    {ok, L} = gen_socket:listen(0, [{backlog, 128} | ?P]),
    {ok, Port} = inet:port(L),
    Modes = [false, once, true, 3],
    Self = self(),
    Clients =
        [begin
             Server = spawn_link(fun() -> echo_server(L, Mode) end),
             Client = spawn_link(fun() -> echo_client(Self, Port, I) end),
             {Server, Client}
         end || I <- lists:seq(1, 4 * N), Mode <- [lists:nth(1 + I rem 4, Modes)]],
    Pids = [C || {_, C} <- Clients],
    Steps = [1, N, 2, 1, 3, N],
    [begin
         progress(Pids),
         erlang:system_flag(schedulers_online, Online),
         progress(Pids),
         progress(Pids)
     end || Online <- Steps],
    [C ! stop || C <- Pids],
    Totals = [receive {done, C, T} -> T end || C <- Pids],
    true = lists:all(fun(T) -> T > 0 end, Totals),
    ok = application:stop(gen_socket),
    ok.

progress(Pids) ->
    [C ! {progress, self()} || C <- Pids],
    [receive {progress, C} -> ok end || C <- Pids],
    ok.

echo_client(Parent, Port, I) ->
    {ok, C} = gen_socket:connect({127, 0, 0, 1}, Port, ?P),
    echo_client_loop(Parent, C, I, 0, []).

echo_client_loop(Parent, C, I, K, Waiting) ->
    receive
        stop ->
            gen_socket:close(C),
            Parent ! {done, self(), K};
        {progress, From} ->
            %% answered after the next round trip
            echo_client_loop(Parent, C, I, K, [From | Waiting])
    after 0 ->
            Size = 1 + (K * 7919 + I) rem 20000,
            Data = binary:copy(<<(K rem 256)>>, Size),
            ok = gen_socket:send(C, [<<Size:32>>, Data]),
            {ok, <<Size:32>>} = gen_socket:recv(C, 4, 30000),
            {ok, Data} = gen_socket:recv(C, Size, 30000),
            [W ! {progress, self()} || W <- Waiting],
            echo_client_loop(Parent, C, I, K + 1, [])
    end.

echo_server(L, Mode) ->
    {ok, S} = gen_socket:accept(L),
    ok = gen_socket:setopts(S, [{packet, 4}]),
    ok = gen_socket:setopts(S, [{active, Mode}]),
    echo_server_loop(S, Mode).

echo_server_loop(S, false) ->
    case gen_socket:recv(S, 0) of
        {ok, D} -> reply(S, D), echo_server_loop(S, false);
        {error, closed} -> ok
    end;
echo_server_loop(S, Mode) ->
    receive
        {tcp, S, D} ->
            reply(S, D),
            case Mode of
                once -> ok = gen_socket:setopts(S, [{active, once}]);
                _ -> ok
            end,
            echo_server_loop(S, Mode);
        {tcp_passive, S} ->
            ok = gen_socket:setopts(S, [{active, Mode}]),
            echo_server_loop(S, Mode);
        {tcp_closed, S} ->
            gen_socket:close(S)
    end.

%% The client reads a raw size, then the data.
reply(S, D) ->
    ok = gen_socket:send(S, D).

%%% ---- teardown ----------------------------------------------------------------

%% What every later call on a socket gives; the same list as a gen_tcp
%% socket whose port died.
later_calls(Mod, C, L) ->
    Other = spawn(fun() -> ok end),
    [{recv, catch Mod:recv(C, 0)},
     {recv_timeout, catch Mod:recv(C, 0, 100)},
     {send, catch Mod:send(C, <<"x">>)},
     {send_large, catch Mod:send(C, binary:copy(<<"x">>, 100000))},
     {accept, catch Mod:accept(L, 100)},
     {setopts, catch inet:setopts(C, [{active, once}])},
     {getopts, catch inet:getopts(C, [active])},
     {peername, catch inet:peername(C)},
     {sockname, catch inet:sockname(C)},
     {getstat, catch inet:getstat(C)},
     {port, catch inet:port(C)},
     {shutdown, catch Mod:shutdown(C, write)},
     {unrecv, catch gen_tcp:unrecv(C, <<"a">>)},
     {controlling_process, catch Mod:controlling_process(C, Other)},
     {close, catch Mod:close(C)},
     {close_listen, catch Mod:close(L)}].

%% A gen_tcp socket set whose ports die (killed), as reference.
gen_tcp_dead() ->
    process_flag(trap_exit, true),
    {ok, L} = gen_tcp:listen(0, ?P),
    {ok, Port} = inet:port(L),
    {ok, C} = gen_tcp:connect({127, 0, 0, 1}, Port, ?P),
    {ok, _S} = gen_tcp:accept(L, 5000),
    [exit(P, kill) || P <- [C, L]],
    [receive {'EXIT', P, killed} -> ok end || P <- [C, L]],
    later_calls(gen_tcp, C, L).

app_stop_teardown() ->
    ok = gs_test_lib:start(),
    Fds0 = gs_test_lib:fd_count(),
    Self = self(),
    %% a gen_tcp peer on each connection: it sees our fds close
    {ok, TL} = gen_tcp:listen(0, ?P),
    {ok, TPort} = inet:port(TL),
    {ok, L} = gen_socket:listen(0, ?P),
    Active = spawn_link(fun() -> owner(Self, TPort, [{active, true}]) end),
    N3 = spawn_link(fun() -> owner(Self, TPort, [{active, 3}]) end),
    Passive = spawn_link(fun() -> owner(Self, TPort, [{active, false}]) end),
    Owners = [Active, N3, Passive],
    Socks = [receive {sock, O, S} -> S end || O <- Owners],
    Peers = [element(2, {ok, _} = gen_tcp:accept(TL, 5000)) || _ <- Owners],
    %% waiters: recv on the passive socket, accept on the listener, a
    %% connect that cannot complete, a send over the high watermark
    PassiveSock = lists:nth(3, Socks),
    {ok, FL} = gen_tcp:listen(0, [{backlog, 0}]),
    {ok, FPort} = inet:port(FL),
    Backlog = gs_test_lib:fill_backlog(FPort),
    Waiters =
        [spawn_waiter(recv, fun() -> gen_socket:recv(PassiveSock, 0) end),
         spawn_waiter(accept, fun() -> gen_socket:accept(L) end),
         spawn_waiter(connect, fun() -> gen_socket:connect({127, 0, 0, 1}, FPort, ?P) end),
         spawn_waiter(send, fun() -> sender(TPort) end, fun blocked_send/1)],
    [receive {waiting, W} -> ok end || {W, _} <- Waiters],
    wait_blocked([W || {W, _} <- Waiters]),
    ok = application:stop(gen_socket),
    %% waiters: {error, closed}
    ?assertEqual([{recv, {error, closed}}, {accept, {error, closed}},
                  {connect, {error, closed}}, {send, {error, closed}}],
                 [receive {result, W, R} -> {Tag, R} end || {W, Tag} <- Waiters]),
    %% active owners: {tcp_closed, S}; the passive one nothing
    ?assertEqual([[{tcp_closed, lists:nth(1, Socks)}],
                  [{tcp_closed, lists:nth(2, Socks)}], []],
                 [begin O ! {messages, self()},
                        receive {messages, O, Ms} -> Ms end end || O <- Owners]),
    %% fds closed: the peers see the end
    [?assertEqual({error, closed}, gen_tcp:recv(P, 0, 5000)) || P <- Peers],
    %% every later call as on a gen_tcp socket whose port died
    {T, S} = gs_test_lib:same(
               fun(gen_tcp) -> gen_tcp_dead();
                  (gen_socket) -> later_calls(gen_socket, PassiveSock, L)
               end),
    ?assertEqual(T, S),
    [?assertEqual(undefined, erlang:port_info(X)) || X <- [L | Socks]],
    [gen_tcp:close(X) || X <- [TL, FL | Peers ++ Backlog]],
    [O ! stop || O <- Owners],
    ?assert(gs_test_lib:wait_until(fun() -> gs_test_lib:fd_count() =< Fds0 end, 250)),
    ok = application:start(gen_socket).

owner(Parent, Port, Opts) ->
    {ok, S} = gen_socket:connect({127, 0, 0, 1}, Port, Opts ++ [binary]),
    Parent ! {sock, self(), S},
    owner_loop([]).

owner_loop(Acc) ->
    receive
        {messages, From} ->
            %% the pollset is gone: whatever came for the socket is here
            From ! {messages, self(), lists:reverse(Acc)},
            owner_loop(Acc);
        stop -> ok;
        M -> owner_loop([M | Acc])
    end.

spawn_waiter(Tag, Fun) ->
    spawn_waiter(Tag, fun() -> none end, fun(none) -> Fun() end).

%% Setup runs before the waiter says it is about to wait in Wait.
spawn_waiter(Tag, Setup, Wait) ->
    Self = self(),
    W = spawn_link(fun() ->
                           X = Setup(),
                           Self ! {waiting, self()},
                           Self ! {result, self(), Wait(X)}
                   end),
    {W, Tag}.

%% A connection whose peer never reads.
sender(TPort) ->
    {ok, C} = gen_socket:connect({127, 0, 0, 1}, TPort, [{send_timeout, infinity} | ?P]),
    C.

%% Sends until a send blocks (then the pollset goes away).
blocked_send(C) ->
    Chunk = binary:copy(<<"z">>, 1000000),
    send_until_error(C, Chunk).

send_until_error(C, Chunk) ->
    case gen_socket:send(C, Chunk) of
        ok -> send_until_error(C, Chunk);
        Error -> Error
    end.

%% Every waiter waits for its completion (gen_socket's await).
wait_blocked(Pids) ->
    ?assert(gs_test_lib:wait_until(
              fun() ->
                      lists:all(fun(P) ->
                                        {current_function, {gen_socket, await, 2}}
                                            =:= erlang:process_info(P, current_function)
                                end, Pids)
              end, 500)).

%% After a restart a socket of the old pollsets answers as closed and
%% never delivers (it used to accept setopts and stay silent).
dead_after_restart() ->
    ok = gs_test_lib:start(),
    _ = gs_test_lib:flush(),
    {L, C, S} = gs_test_lib:pair(gen_socket, ?P),
    ok = application:stop(gen_socket),
    ok = application:start(gen_socket),
    ?assertEqual({error, einval}, inet:setopts(S, [{active, once}])),
    ?assertEqual({error, closed}, gen_socket:recv(S, 0, 100)),
    ?assertEqual({error, closed}, gen_socket:send(C, <<"x">>)),
    ?assertEqual([], gs_test_lib:flush()),
    %% new sockets work
    {L2, C2, S2} = gs_test_lib:pair(gen_socket, ?P),
    ok = gen_socket:send(C2, <<"hello">>),
    ?assertEqual({ok, <<"hello">>}, gen_socket:recv(S2, 5, 5000)),
    [gen_socket:close(X) || X <- [L, C, S, L2, C2, S2]].

%% exit(Poller, kill): no terminate runs; the pollset's sockets end all
%% the same (the port stop does it), the restarted poller closes their
%% ports; sockets of the other pollsets never notice.
poller_killed() ->
    ok = gs_test_lib:start(),
    N = erlang:system_info(schedulers),
    {ok, L} = gen_socket:listen(0, ?P),
    {ok, Port} = inet:port(L),
    %% enough active sockets that some are on every pollset
    Pairs = [begin
                 {ok, C} = gen_socket:connect({127, 0, 0, 1}, Port, [{active, true}, binary]),
                 {ok, S} = gen_socket:accept(L, 5000),
                 ok = gen_socket:setopts(S, [{active, true}]),
                 {C, S}
             end || _ <- lists:seq(1, 2 * N)],
    Victim = gen_socket:socket_info(element(1, hd(Pairs)), pollset),
    Poller = poller(Victim),
    MRef = erlang:monitor(process, Poller),
    OnVictim = [X || {C, S} <- Pairs, X <- [C, S],
                     gen_socket:socket_info(X, pollset) =:= Victim],
    Others = [P || {C, S} = P <- Pairs, not lists:member(C, OnVictim),
                   not lists:member(S, OnVictim)],
    PortRefs = [erlang:monitor(port, X) || X <- OnVictim],
    exit(Poller, kill),
    receive {'DOWN', MRef, process, Poller, killed} -> ok end,
    [?assertEqual({tcp_closed, X}, receive {tcp_closed, X} = M -> M after 5000 -> none end)
     || X <- OnVictim],
    %% the restarted poller closes the dead sockets' ports
    [receive {'DOWN', R, port, _, _} -> ok end || R <- PortRefs],
    ?assertNotEqual(Poller, poller(Victim)),
    [?assertEqual({error, closed}, gen_socket:send(X, <<"x">>)) || X <- OnVictim],
    [?assertEqual({error, einval}, inet:setopts(X, [{active, once}])) || X <- OnVictim],
    %% the other pollsets' sockets go on
    [begin
         ok = gen_socket:send(C, <<"still">>),
         ?assertEqual({tcp, S, <<"still">>},
                      receive {tcp, S, _} = M -> M after 5000 -> none end)
     end || {C, S} <- Others],
    ?assert(N =:= 1 orelse Others =/= []),
    %% the restarted pollset serves new sockets
    {L2, C2, S2} = gs_test_lib:pair(gen_socket, ?P),
    ok = gen_socket:send(C2, <<"new">>),
    ?assertEqual({ok, <<"new">>}, gen_socket:recv(S2, 3, 5000)),
    [catch gen_socket:close(X) || X <- [L, L2, C2, S2 | lists:append([[C, S] || {C, S} <- Pairs])]],
    gs_test_lib:flush().

poller(I) ->
    hd([Pid || {{gen_socket_poller, J}, Pid, _, _} <- supervisor:which_children(gen_socket_sup),
               J =:= I, is_pid(Pid)]).

%%% ---- no setup call --------------------------------------------------------

no_setup() ->
    {R, Out} = child([], ?MODULE, no_setup_child, []),
    ?assertEqual(ok, R),
    %% started exactly once by 50 concurrent first calls, then once more
    %% after the explicit stop
    ?assertEqual(2, banners(Out)).

no_setup_child() ->
    undefined = whereis(gen_socket_sup),
    false = lists:keymember(gen_socket, 1, application:which_applications()),
    Self = self(),
    %% 50 processes race to be the first user, half listening, half
    %% connecting to a gen_tcp listener
    {ok, TL} = gen_tcp:listen(0, [{backlog, 128}]),
    {ok, TPort} = inet:port(TL),
    Go = make_ref(),
    Pids = [spawn(fun() ->
                          receive Go -> ok end,
                          R = case I rem 2 of
                                  0 -> gen_socket:listen(0, ?P);
                                  1 -> gen_socket:connect({127, 0, 0, 1}, TPort, ?P)
                              end,
                          Self ! {self(), element(1, R)},
                          receive stop -> ok end
                  end) || I <- lists:seq(1, 50)],
    [P ! Go || P <- Pids],
    Results = [receive {P, R} -> R end || P <- Pids],
    Results = lists:duplicate(50, ok),
    [P ! stop || P <- Pids],
    %% every API call
    {ok, L} = gen_socket:listen(0, ?P),
    {ok, Port} = inet:port(L),
    {ok, C} = gen_socket:connect({127, 0, 0, 1}, Port, ?P),
    {ok, S} = gen_socket:accept(L, 5000),
    ok = gen_socket:send(C, <<"abc">>),
    {ok, <<"abc">>} = gen_socket:recv(S, 3, 5000),
    ok = gen_socket:setopts(S, [{active, once}]),
    {ok, [{active, once}]} = gen_socket:getopts(S, [active]),
    ok = gen_socket:send(C, <<"d">>),
    receive {tcp, S, <<"d">>} -> ok end,
    {ok, _} = gen_socket:peername(C),
    {ok, _} = gen_socket:sockname(C),
    {ok, _} = gen_socket:getstat(C),
    ok = gen_socket:shutdown(C, write),
    ok = gen_socket:controlling_process(C, spawn(fun() -> receive _ -> ok end end)),
    N = erlang:system_info(schedulers),
    N = length(gen_socket:info()),
    [gen_socket:close(X) || X <- [S, L]],
    %% a clean stop, and first use again afterwards
    ok = application:stop(gen_socket),
    undefined = whereis(gen_socket_sup),
    {ok, L2} = gen_socket:listen(0, ?P),
    gen_socket:close(L2),
    ok.

%%% ---- init:stop with an acceptor pool ------------------------------------------

%% A ranch-like pool (gs_lifecycle_pool: an application started before
%% gen_socket, whose acceptors are restarted and listen again when their
%% socket dies) must not start gen_socket again while the node stops, and
%% the node must stop in seconds.
stop_with_acceptor_pool() ->
    {R, Out, Ms} = child_timed([], ?MODULE, pool_child, []),
    ?assertEqual(ok, R),
    %% the listener did listen again while the node was stopping, and
    %% that failed: gen_socket never came back (one banner)
    Late = [L || L <- Out, binary:match(L, <<"listen_while_stopping">>) =/= nomatch],
    ?assertNotEqual([], Late),
    ?assertEqual([], [L || L <- Late, binary:match(L, <<"{error,closed}">>) =:= nomatch]),
    ?assertEqual(1, banners(Out)),
    ?assert(Ms < 20000).

pool_child() ->
    ok = gs_lifecycle_pool:start_app(),
    %% gen_socket starts now, after the pool: it is stopped first
    {ok, Port} = gs_lifecycle_pool:start_listener(4),
    {ok, C} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    ok = gen_tcp:send(C, <<"hi">>),
    {ok, <<"hi">>} = gen_tcp:recv(C, 2, 5000),
    gen_tcp:close(C),
    io:format("RESULT:~s~n", [base64:encode(term_to_binary(ok))]),
    init:stop(),
    receive after infinity -> ok end.
