%% Bad input: random requests and payloads on every opcode, straight to
%% the driver (bypassing gen_socket), on ports in every state.  Each call
%% must answer (a reply or a badarg), the VM must live, and once the ports
%% are closed no fd or thread may be left over.
-module(gen_socket_fuzz_tests).
-include_lib("eunit/include/eunit.hrl").

-define(MAGIC, 16#03f1a300).
-define(ROUNDS, 1000).

fuzz_test_() ->
    {setup, fun gs_test_lib:start/0,
     [{timeout, 300, fun fuzz/0}]}.

fuzz() ->
    Seed = {erlang:phash2(os:timestamp()), 17, 4711},
    ?debugFmt("fuzz seed ~p", [Seed]),
    rand:seed(exsplus, Seed),
    {ok, Peer} = gen_tcp:listen(0, [binary, {active, false}, {backlog, 1024}]),
    {ok, PeerPort} = inet:port(Peer),
    Fds0 = gs_test_lib:fd_count(),
    Threads0 = gs_test_lib:thread_count(),
    Cmds = lists:seq(0, 130) ++ [?MAGIC + C || C <- lists:seq(0, 45)],
    lists:foreach(
      fun(Round) ->
              Ports = fresh_ports(PeerPort),
              [poke(P, Cmds, PeerPort) || P <- Ports],
              [catch erlang:port_close(P) || P <- Ports ++ accepted()],
              Round rem 50 =:= 0 andalso drain_peer(Peer)
      end, lists:seq(1, ?ROUNDS)),
    %% Pollers are ports too; they must shrug off what reaches them.
    Pollers = [P || P <- erlang:ports(),
                    erlang:port_info(P, name) =:= {name, "gen_socket_drv"}],
    [catch erlang:port_control(P, C, random_payload(PeerPort, C))
     || P <- Pollers, C <- Cmds, C =/= 104],
    [catch erlang:port_command(P, random_bytes(20)) || P <- Pollers],
    _ = gs_test_lib:flush(),
    gen_tcp:close(Peer),
    %% The application still works.
    {L, C0, S0} = gs_test_lib:pair(gen_socket, [binary, {active, false}]),
    ok = gen_socket:send(C0, <<"alive">>),
    ?assertEqual({ok, <<"alive">>}, gen_socket:recv(S0, 5, 5000)),
    [gen_socket:close(X) || X <- [C0, S0, L]],
    ?assert(gs_test_lib:wait_until(fun() -> gs_test_lib:fd_count() =< Fds0 end, 100)),
    ?assertEqual(Threads0, gs_test_lib:thread_count()).

%% A fresh port, an opened socket, a listener, a connected client.
fresh_ports(PeerPort) ->
    New = open(),
    Opened = open(),
    <<1, _:32, _>> = erlang:port_control(Opened, 110, <<1, 1:32>>),
    Listener = open(),
    <<1, _:32, _>> = erlang:port_control(Listener, 110, <<1, 1:32>>),
    <<1>> = erlang:port_control(Listener, 111, <<0:16, 127, 0, 0, 1>>),
    <<1>> = erlang:port_control(Listener, 112, <<5:32>>),
    {ok, Client} = gen_socket:connect({127, 0, 0, 1}, PeerPort, [binary, {active, false}]),
    [New, Opened, Listener, Client].

open() ->
    erlang:open_port({spawn_driver, "gen_socket_drv"}, [binary]).

poke(Port, Cmds, PeerPort) ->
    lists:foreach(
      fun(_) ->
              C = case rand:uniform(10) of
                      1 -> rand:uniform(16#ffffffff);
                      _ -> lists:nth(rand:uniform(length(Cmds)), Cmds)
                  end,
              case C of
                  104 -> ok;    % the binding policy is global: leave it
                  _ ->
                      R = (catch erlang:port_control(Port, C, random_payload(PeerPort, C))),
                      check_reply(R)
              end,
              case rand:uniform(8) of
                  1 -> catch erlang:port_command(Port, random_payload(PeerPort, 116));
                  _ -> ok
              end
      end, lists:seq(1, 60)),
    _ = gs_test_lib:flush().

%% A reply is a binary (gen_socket's requests) or a list (prim_inet's);
%% a closed or busy port gives badarg.
check_reply(R) when is_binary(R); is_list(R) -> ok;
check_reply({'EXIT', {badarg, _}}) -> ok;
check_reply(Other) -> erlang:error({bad_reply, Other}).

%% Random bytes, except that a connect (113) may only go to loopback:
%% the test must not send packets anywhere else.
random_payload(PeerPort, 113) ->
    case rand:uniform(3) of
        1 -> <<PeerPort:16, 127, 0, 0, 1>>;
        2 -> <<(rand:uniform(65535)):16, 0:120, 1:8>>;  % ::1
        3 -> random_bytes(rand:uniform(5) - 1)          % too short
    end;
random_payload(_, _) ->
    case rand:uniform(6) of
        1 -> <<>>;
        2 -> random_bytes(1);
        3 -> random_bytes(4);
        4 -> random_bytes(5);
        5 -> random_bytes(rand:uniform(64));
        6 -> random_bytes(rand:uniform(2000))
    end.

random_bytes(N) ->
    list_to_binary([rand:uniform(256) - 1 || _ <- lists:seq(1, N)]).

%% Sockets an ACCEPT may have created for us.
accepted() ->
    [P || {'$gen_socket', _, {ok, P, _, _}} <- gs_test_lib:flush()].

drain_peer(Peer) ->
    case gen_tcp:accept(Peer, 0) of
        {ok, S} -> gen_tcp:close(S), drain_peer(Peer);
        _ -> ok
    end.
