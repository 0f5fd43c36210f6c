%% Helpers for the EUnit suites: run a scenario on gen_tcp and on
%% gen_socket, normalise socket handles, count fds and threads.
-module(gs_test_lib).

-export([start/0, same/1, run/2, norm/1, fd_count/0, thread_count/0,
         pair/2, pair/3, wait_until/2, flush/0,
         fill_backlog/1, collect/2, recv_exact/3]).

start() ->
    case application:start(gen_socket) of
        ok -> ok;
        {error, {already_started, gen_socket}} -> ok
    end.

%% Runs Fun(Mod) for gen_tcp and gen_socket, each in a fresh process,
%% and returns {GenTcpResult, GenSocketResult}, normalised.
%% A crash or a hang is never a match, even if both sides crash alike.
%% On a legacy release, the same refusal on both sides is a match
%% (gs_compat:same_refusal/2).
same(Fun) ->
    T = run(gen_tcp, Fun),
    S = run(gen_socket, Fun),
    case gs_compat:same_refusal(T, S) of
        {true, Refused} ->
            {Refused, Refused};
        false ->
            [erlang:error({scenario_failed, gen_tcp, T}) || failed(T)],
            [erlang:error({scenario_failed, gen_socket, S}) || failed(S)],
            {T, S}
    end.

failed({crashed, _}) -> true;
failed({timeout, _}) -> true;
failed(_) -> false.

run(Mod, Fun) ->
    Parent = self(),
    Ref = make_ref(),
    {Pid, MRef} = spawn_monitor(fun() -> Parent ! {Ref, norm(Fun(Mod))} end),
    receive
        {Ref, R} -> erlang:demonitor(MRef, [flush]), R;
        {'DOWN', MRef, process, Pid, Reason} -> {crashed, Reason}
    after 30000 ->
            exit(Pid, kill),
            {timeout, Mod}
    end.

%% Ports become 'sock', stack traces 'stack'; everything else is kept.
norm(P) when is_port(P) -> sock;
norm({'EXIT', {Reason, [_ | _]}}) -> {'EXIT', {norm(Reason), stack}};
norm(T) when is_tuple(T) -> list_to_tuple(norm(tuple_to_list(T)));
norm([H | T]) -> [norm(H) | norm(T)];
norm(X) -> X.

%% A connected pair {Listen, Client, Server} with Mod, loopback.
pair(Mod, Opts) ->
    pair(Mod, Opts, Opts).
pair(Mod, LOpts, COpts) ->
    {ok, L} = Mod:listen(0, [{reuseaddr, true} | LOpts]),
    {ok, Port} = inet:port(L),
    {ok, C} = Mod:connect({127, 0, 0, 1}, Port, COpts),
    {ok, S} = Mod:accept(L, 5000),
    {L, C, S}.

fd_count() ->
    length(element(2, file:list_dir("/proc/self/fd"))).

thread_count() ->
    length(element(2, file:list_dir("/proc/self/task"))).

wait_until(_Fun, 0) -> false;
wait_until(Fun, N) ->
    case Fun() of
        true -> true;
        false -> timer:sleep(20), wait_until(Fun, N - 1)
    end.

flush() ->
    receive M -> [M | flush()] after 0 -> [] end.

%% Connects gen_tcp clients to a listener that never accepts until its
%% accept queue is full (SYNs are then dropped): a further connect can
%% only time out.  Returns the clients.
fill_backlog(Port) ->
    fill_backlog(Port, 10, []).

fill_backlog(_Port, 0, Acc) -> Acc;
fill_backlog(Port, N, Acc) ->
    case gen_tcp:connect({127, 0, 0, 1}, Port, [], 300) of
        {ok, S} -> fill_backlog(Port, N - 1, [S | Acc]);
        {error, timeout} -> Acc
    end.

%% Every message about socket S (its second element) until Quiet ms pass
%% without one.
collect(S, Quiet) ->
    receive
        M when element(2, M) =:= S -> [M | collect(S, Quiet)]
    after Quiet -> []
    end.

%% Exactly N bytes from a passive binary socket, however they come.
recv_exact(Mod, S, N) ->
    recv_exact(Mod, S, N, []).

recv_exact(_Mod, _S, 0, Acc) ->
    iolist_to_binary(lists:reverse(Acc));
recv_exact(Mod, S, N, Acc) ->
    {ok, D} = Mod:recv(S, 0, 5000),
    recv_exact(Mod, S, N - byte_size(D), [D | Acc]).
