%% Side by side, what a call with bad arguments raises or returns: the
%% whole term, {'EXIT', {Reason, stack}} included (only the stack is
%% normalised).  Calls are made through the module (Mod:recv/3 ...) and,
%% for a gen_socket socket, through gen_tcp's dispatch as well.
-module(gen_socket_terms_tests).
-include_lib("eunit/include/eunit.hrl").

-define(P, [binary, {active, false}]).

terms_test_() ->
    {setup, fun gs_test_lib:start/0,
     [{atom_to_list(N), {timeout, 30, fun() -> same(N, F) end}}
      || {N, F} <- calls()] ++
     [{"negative timeouts wait for ever", {timeout, 30, fun negative/0}},
      {"recv lengths cut to 32 bits", {timeout, 30, fun lengths/0}},
      {"through gen_tcp's dispatch", {timeout, 30, fun dispatch/0}}]}.

%% {Name, fun(Mod, Listen, Connected) -> Term}
calls() ->
    [{recv_timeout_atom, fun(M, _, S) -> M:recv(S, 0, foo) end},
     {recv_timeout_float, fun(M, _, S) -> M:recv(S, 0, 1.5) end},
     {recv_len_negative, fun(M, _, S) -> M:recv(S, -1, 0) end},
     {recv_len_atom, fun(M, _, S) -> M:recv(S, foo, 0) end},
     {recv_len_float, fun(M, _, S) -> M:recv(S, 1.0, 0) end},
     {recv2_len_atom, fun(M, _, S) -> M:recv(S, foo) end},
     {recv_not_port, fun(M, _, _) -> M:recv(foo, 0, 0) end},
     {recv_enomem, fun(M, _, S) -> M:recv(S, 67108865, 0) end},
     {shutdown_sideways, fun(M, _, S) -> M:shutdown(S, sideways) end},
     {shutdown_not_port, fun(M, _, _) -> M:shutdown(foo, read) end},
     {send_not_port, fun(M, _, _) -> M:send(foo, <<"x">>) end},
     {send_atom, fun(M, _, S) -> M:send(S, foo) end},
     {send_bad_list, fun(M, _, S) -> M:send(S, [1, foo]) end},
     {send_bad_byte, fun(M, _, S) -> M:send(S, [256]) end},
     {controlling_process_atom,
      fun(M, _, S) -> M:controlling_process(S, foo) end},
     {controlling_process_not_port,
      fun(M, _, _) -> M:controlling_process(foo, self()) end},
     {close_not_port, fun(M, _, _) -> M:close(foo) end},
     {unrecv_atom, fun(M, _, S) -> M:unrecv(S, foo) end},
     {accept_not_port, fun(M, _, _) -> M:accept(foo) end},
     {accept_connected, fun(M, _, S) -> M:accept(S, 10) end},
     {accept_timeout_atom, fun(M, L, _) -> M:accept(L, foo) end},
     {accept_timeout_float, fun(M, L, _) -> M:accept(L, 1.5) end},
     {listen_port_atom, fun(M, _, _) -> M:listen(foo, []) end},
     {listen_port_big, fun(M, _, _) -> M:listen(70000, []) end},
     {connect_port_atom, fun(M, _, _) -> M:connect("localhost", foo, []) end},
     {connect_timeout_negative,
      fun(M, _, _) -> M:connect("localhost", 1, [], -1) end},
     {connect_opts_atom,
      fun(M, _, _) -> M:connect("localhost", 1, not_a_list) end},
     {connect_host_float, fun(M, _, _) -> M:connect(1.5, 1, []) end},
     {connect_host_binary,
      fun(M, _, _) -> M:connect(<<"localhost">>, 1, []) end},
     {connect_host_empty, fun(M, _, _) -> M:connect("", 1, []) end},
     {connect_host_short_tuple, fun(M, _, _) -> M:connect({1, 2, 3}, 1, []) end},
     {connect_host_bad_list, fun(M, _, _) -> M:connect([1, 2], 1, []) end}].

same(Name, F) ->
    {T, S} = gs_test_lib:same(
               fun(Mod) ->
                       {L, C, S} = gs_test_lib:pair(Mod, ?P),
                       R = (catch F(Mod, L, S)),
                       [catch Mod:close(X) || X <- [L, C, S]],
                       R
               end),
    ?assertEqual({Name, T}, {Name, S}).

%% prim_inet takes a negative timeout as infinity: the call waits for
%% data (here already there) instead of failing.
negative() ->
    {T, S} = gs_test_lib:same(
               fun(Mod) ->
                       {ok, L} = Mod:listen(0, ?P),
                       {ok, Port} = inet:port(L),
                       {ok, C} = Mod:connect({127, 0, 0, 1}, Port, ?P),
                       {ok, A} = Mod:accept(L, -5),
                       ok = Mod:send(C, <<"abc">>),
                       R = Mod:recv(A, 3, -5),
                       [Mod:close(X) || X <- [L, C, A]],
                       {norm, R}
               end),
    ?assertEqual({norm, {ok, <<"abc">>}}, T),
    ?assertEqual(T, S).

%% The length goes to the driver in 32 bits: 2^32 is 0 (any data).
lengths() ->
    {T, S} = gs_test_lib:same(
               fun(Mod) ->
                       {L, C, A} = gs_test_lib:pair(Mod, ?P),
                       ok = Mod:send(C, <<"abc">>),
                       R = [Mod:recv(A, 1 bsl 32, 5000),
                            Mod:recv(A, (1 bsl 32) + 67108865, 0)],
                       [Mod:close(X) || X <- [L, C, A]],
                       R
               end),
    ?assertEqual([{ok, <<"abc">>}, {error, enomem}], T),
    ?assertEqual(T, S).

%% gen_tcp:recv/shutdown/send on a gen_socket socket reach gen_socket.
dispatch() ->
    {T, S} = gs_test_lib:same(
               fun(Mod) ->
                       {L, C, A} = gs_test_lib:pair(Mod, ?P),
                       R = [catch gen_tcp:recv(A, 0, foo),
                            catch gen_tcp:shutdown(A, sideways),
                            catch gen_tcp:send(A, foo),
                            catch gen_tcp:accept(L, foo)],
                       [Mod:close(X) || X <- [L, C, A]],
                       R
               end),
    ?assertEqual([{'EXIT', {function_clause, stack}},
                  {'EXIT', {function_clause, stack}}, {error, einval},
                  {'EXIT', {function_clause, stack}}], T),
    ?assertEqual(T, S).
