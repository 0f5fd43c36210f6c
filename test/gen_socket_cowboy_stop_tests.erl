%% Issue 8: a node with cowboy serving on a gen_socket listen socket
%% (through gen_socket_ranch) finishes init:stop() in seconds, whether
%% gen_socket was started before cowboy or after it; the same node on
%% ranch_tcp is the reference.  Each case is a child VM (its stdin and
%% stdout are ours; gs_stack_lib:stop_child/2 is its program) with a
%% keep-alive client connection open while it stops.
-module(gen_socket_cowboy_stop_tests).

-include_lib("eunit/include/eunit.hrl").

%% "in seconds": the reference stops in about one.
-define(STOP_BOUND_MS, 5000).
%% a child still running this long after init:stop() is killed
-define(KILL_AFTER_MS, 30000).

stop_test_() ->
    {setup, fun gs_stack_lib:thirdparty/0, fun(_) -> ok end,
     fun(Ebins) ->
             [{timeout, 60,
               {lists:flatten(io_lib:format("~p, ~p: init:stop() in seconds", [T, Order])),
                fun() -> stops(Ebins, T, Order) end}}
              || T <- [ranch_tcp, gen_socket_ranch],
                 Order <- [gen_socket_first, cowboy_first]]
     end}.

stops(Ebins, Transport, Order) ->
    Root = gs_stack_lib:repo_root(),
    Eval = lists:flatten(io_lib:format("gs_stack_lib:stop_child(~p, ~p).", [Order, Transport])),
    Args = ["-noshell", "-pa", filename:join(Root, "ebin"), "-pa", filename:join(Root, "test")]
        ++ lists:append([["-pa", E] || E <- Ebins]) ++ ["-eval", Eval],
    Child = open_port({spawn_executable, os:find_executable("erl")},
                      [{args, Args}, {line, 4096}, exit_status, stderr_to_stdout, binary]),
    {Port, Log0} = await_ready(Child, []),
    %% the server answers, and a keep-alive connection stays open
    {ok, C} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    ok = gen_tcp:send(C, <<"GET /hello HTTP/1.1\r\nhost: x\r\n\r\n">>),
    {Response, <<>>} = gs_stack_lib:read_response(C, <<>>),
    ?assertMatch(<<"HTTP/1.1 200 OK", _/binary>>, Response),
    T0 = erlang:monotonic_time(millisecond),
    true = port_command(Child, <<"stop\n">>),
    {Status, Log} = await_exit(Child, Log0),
    Elapsed = erlang:monotonic_time(millisecond) - T0,
    ClientSees = gen_tcp:recv(C, 0, 5000),
    ok = gen_tcp:close(C),
    ?assertEqual({{exit_status, 0}, in_bound, {error, closed}},
                 {Status, bound(Elapsed, Log), ClientSees}).

bound(Elapsed, _Log) when Elapsed =< ?STOP_BOUND_MS -> in_bound;
bound(Elapsed, Log) ->
    %% the child's log, whole, where a reader of the test output sees it
    io:format(standard_error, "~n--- child log (~p ms after init:stop()) ---~n~s~n",
              [Elapsed, [[L, "\n"] || L <- lists:reverse(Log)]]),
    {took_ms, Elapsed}.

await_ready(Child, Log) ->
    receive
        {Child, {data, {eol, <<"READY ", P/binary>>}}} ->
            {binary_to_integer(P), Log};
        {Child, {data, {_, Line}}} ->
            await_ready(Child, [Line | Log]);
        {Child, {exit_status, St}} ->
            erlang:error({child_exited_before_ready, St, lists:reverse(Log)})
    after 30000 ->
            kill(Child),
            erlang:error({child_not_ready, lists:reverse(Log)})
    end.

await_exit(Child, Log) ->
    receive
        {Child, {data, {_, Line}}} -> await_exit(Child, [Line | Log]);
        {Child, {exit_status, St}} -> {{exit_status, St}, Log}
    after ?KILL_AFTER_MS ->
            kill(Child),
            {{killed_after_ms, ?KILL_AFTER_MS}, Log}
    end.

%% By the child's own OS pid.
kill(Child) ->
    case erlang:port_info(Child, os_pid) of
        {os_pid, Pid} -> os:cmd("kill -9 " ++ integer_to_list(Pid));
        undefined -> ok
    end.
