%% Side by side: unix domain sockets as gen_tcp has them on OTP 25,
%% {ifaddr, {local, Path}} or the `local' family at listen, connect to
%% {local, Path} with port 0, accept, names, data, options, errors.  Both
%% runs use the same paths (one after the other), so names compare.
-module(gen_socket_local_tests).
-include_lib("eunit/include/eunit.hrl").

-export([scenario/2]).

-define(P, [binary, {active, false}]).

local_test_() ->
    {setup, fun gs_test_lib:start/0,
     [{atom_to_list(N), {timeout, 60, fun() -> same(N) end}}
      || N <- [basic, names, string_and_binary_paths, family_option,
               ip_option, tcp_module, active, packet_mode, big_transfer,
               options, errors, client_bound, close_and_reuse,
               unlinked_path, sendfile]]}.

same(N) ->
    {T, S} = gs_test_lib:same(fun(Mod) -> with_paths(N, Mod) end),
    ?assertEqual({N, T}, {N, S}),
    [?assertNotMatch({error, _}, T) || N =:= basic].

path(N, I) ->
    lists:flatten(io_lib:format("/tmp/gs_local_~s_~s_~p",
                                [os:getpid(), N, I])).

with_paths(N, Mod) ->
    Paths = [path(N, I) || I <- lists:seq(1, 3)],
    [file:delete(P) || P <- Paths],
    try scenario(N, Mod)
    after [file:delete(P) || P <- Paths]
    end.

local_pair(Mod, Path, LOpts, COpts) ->
    {ok, L} = Mod:listen(0, [{ifaddr, {local, Path}} | LOpts]),
    {ok, C} = Mod:connect({local, Path}, 0, COpts),
    {ok, S} = Mod:accept(L, 5000),
    {L, C, S}.

close_all(Mod, Socks) ->
    [Mod:close(X) || X <- Socks],
    ok.

scenario(basic, Mod) ->
    {L, C, S} = local_pair(Mod, path(basic, 1), ?P, ?P),
    ok = Mod:send(C, <<"hello">>),
    ok = Mod:send(S, <<"world">>),
    R = [Mod:recv(S, 5, 5000), Mod:recv(C, 5, 5000)],
    close_all(Mod, [L, C, S]),
    R;
scenario(names, Mod) ->
    P = path(names, 1),
    {L, C, S} = local_pair(Mod, P, ?P, ?P),
    R = [inet:sockname(L), inet:peername(L), inet:port(L),
         inet:sockname(C), inet:peername(C), inet:port(C),
         inet:sockname(S), inet:peername(S), inet:port(S),
         file:read_file_info(P) =/= {error, enoent}],
    close_all(Mod, [L, C, S]),
    R;
scenario(string_and_binary_paths, Mod) ->
    P = path(string_and_binary_paths, 1),
    {ok, L} = Mod:listen(0, [{ifaddr, {local, list_to_binary(P)}} | ?P]),
    {ok, C} = Mod:connect({local, P}, 0, ?P),
    {ok, S} = Mod:accept(L, 5000),
    R = [inet:sockname(L), inet:peername(C)],
    close_all(Mod, [L, C, S]),
    R;
scenario(family_option, Mod) ->
    P = path(family_option, 1),
    {ok, L} = Mod:listen(0, [local, {ifaddr, {local, P}} | ?P]),
    {ok, C} = Mod:connect({local, P}, 0, [local | ?P]),
    {ok, S} = Mod:accept(L, 5000),
    R = [inet:sockname(L), inet:peername(C)],
    close_all(Mod, [L, C, S]),
    R;
scenario(ip_option, Mod) ->
    P = path(ip_option, 1),
    {ok, L} = Mod:listen(0, [{ip, {local, P}} | ?P]),
    {ok, C} = Mod:connect({local, P}, 0, ?P),
    {ok, S} = Mod:accept(L, 5000),
    R = inet:sockname(L),
    close_all(Mod, [L, C, S]),
    R;
scenario(tcp_module, Mod) ->
    P = path(tcp_module, 1),
    {ok, L} = Mod:listen(0, [{tcp_module, local_tcp},
                             {ifaddr, {local, P}} | ?P]),
    {ok, C} = Mod:connect({local, P}, 0, [{tcp_module, local_tcp} | ?P]),
    {ok, S} = Mod:accept(L, 5000),
    close_all(Mod, [L, C, S]),
    ok;
scenario(active, Mod) ->
    {L, C, S} = local_pair(Mod, path(active, 1), [binary, {active, true}],
                           ?P),
    ok = Mod:send(C, <<"one">>),
    M1 = receive {tcp, _, _} = M -> M after 5000 -> none end,
    ok = Mod:close(C),
    M2 = receive {tcp_closed, _} = MM -> MM after 5000 -> none end,
    close_all(Mod, [L, S]),
    [M1, M2];
scenario(packet_mode, Mod) ->
    {L, C, S} = local_pair(Mod, path(packet_mode, 1),
                           [{packet, 2} | ?P], [{packet, 2} | ?P]),
    ok = Mod:send(C, <<"abc">>),
    ok = Mod:send(C, <<"defg">>),
    R = [Mod:recv(S, 0, 5000), Mod:recv(S, 0, 5000)],
    close_all(Mod, [L, C, S]),
    R;
scenario(big_transfer, Mod) ->
    {L, C, S} = local_pair(Mod, path(big_transfer, 1), ?P, ?P),
    Data = binary:copy(<<"0123456789abcdef">>, 256 * 1024),   % 4 MiB
    Self = self(),
    spawn_link(fun() ->
                       Self ! {got, gs_test_lib:recv_exact(Mod, S,
                                                           byte_size(Data))}
               end),
    ok = Mod:send(C, Data),
    Got = receive {got, G} -> G after 30000 -> timeout end,
    close_all(Mod, [L, C, S]),
    Got =:= Data;
scenario(options, Mod) ->
    {L, C, S} = local_pair(Mod, path(options, 1), ?P, ?P),
    Keys = [active, mode, packet, reuseaddr, keepalive, nodelay, sndbuf,
            linger, priority, tos, nopush, ttl, recvtos, bind_to_device,
            send_timeout, exit_on_close, buffer],
    R = [[{K, inet:getopts(X, [K])} || K <- Keys] || X <- [L, C, S]] ++
        [[{O, inet:setopts(C, [O])}
          || O <- [{nodelay, true}, {keepalive, true}, {tos, 16},
                   {nopush, true}, {ttl, 5}, {sndbuf, 65536},
                   {priority, 3}, {recvtos, true}]]],
    close_all(Mod, [L, C, S]),
    R;
scenario(errors, Mod) ->
    P = path(errors, 1),
    {ok, L} = Mod:listen(0, [{ifaddr, {local, P}} | ?P]),
    R = [catch Mod:connect({local, P}, 1, ?P),
         catch Mod:connect({local, path(errors, 2)}, 0, ?P),
         catch Mod:listen(0, [{ifaddr, {local, P}} | ?P]),
         catch Mod:listen(5, [{ifaddr, {local, path(errors, 3)}} | ?P]),
         catch Mod:listen(0, [local | ?P]),
         catch Mod:connect({127, 0, 0, 1}, 1, [local | ?P]),
         catch Mod:connect({local, foo}, 0, ?P),
         catch Mod:connect({local, binary:copy(<<"x">>, 200)}, 0, ?P),
         catch Mod:listen(0, [{ifaddr, {local, binary:copy(<<"y">>, 200)}}
                              | ?P]),
         catch Mod:accept(L, 0)],
    Mod:close(L),
    R;
%% A client bound to a name of its own.
scenario(client_bound, Mod) ->
    P = path(client_bound, 1),
    Q = path(client_bound, 2),
    {ok, L} = Mod:listen(0, [{ifaddr, {local, P}} | ?P]),
    {ok, C} = Mod:connect({local, P}, 0, [{ifaddr, {local, Q}} | ?P]),
    {ok, S} = Mod:accept(L, 5000),
    R = [inet:sockname(C), inet:peername(S)],
    close_all(Mod, [L, C, S]),
    R;
%% Closing a listener leaves its file; a new listen on it fails until the
%% file is removed.
scenario(close_and_reuse, Mod) ->
    P = path(close_and_reuse, 1),
    {ok, L} = Mod:listen(0, [{ifaddr, {local, P}} | ?P]),
    ok = Mod:close(L),
    R1 = Mod:listen(0, [{ifaddr, {local, P}} | ?P]),
    ok = file:delete(P),
    {ok, L2} = Mod:listen(0, [{ifaddr, {local, P}} | ?P]),
    R2 = inet:sockname(L2),
    Mod:close(L2),
    [R1, R2];
%% The listener's file removed under it: new connects fail, the
%% connection made before goes on.
scenario(unlinked_path, Mod) ->
    P = path(unlinked_path, 1),
    {L, C, S} = local_pair(Mod, P, ?P, ?P),
    ok = file:delete(P),
    R = [catch Mod:connect({local, P}, 0, ?P), Mod:send(C, <<"still">>),
         Mod:recv(S, 5, 5000)],
    close_all(Mod, [L, C, S]),
    R;
scenario(sendfile, Mod) ->
    P = path(sendfile, 1),
    F = path(sendfile, 2),
    ok = file:write_file(F, binary:copy(<<"f">>, 100000)),
    {L, C, S} = local_pair(Mod, P, ?P, ?P),
    R = [file:sendfile(F, S), byte_size(gs_test_lib:recv_exact(Mod, C, 100000))],
    close_all(Mod, [L, C, S]),
    R.
