%% The mechanisms gen_socket relies on, checked on the release it runs on
%% (`make test' on the current OTP, `make test-legacy' on R16B01):
%% process_flag(scheduler, N) binding, the control protocol in both forms
%% (bare inet_drv request numbers as R16's prim_inet sends them, and with
%% the OTP 23+ offset), one pollset per scheduler, and gen_tcp/inet calls
%% on gen_socket ports dispatched to gen_socket.  R16-clean.
-module(gen_socket_legacy_tests).
-include_lib("eunit/include/eunit.hrl").

-export([dispatch/1, newer_options/1]).

-define(P, [binary, {active, false}]).
%% inet_drv request numbers (kernel's inet_int.hrl, the same in R16B01 and
%% OTP 25) and the offset prim_inet adds since OTP 23.
-define(REQ_PEER, 4).
-define(REQ_NAME, 5).
-define(CTL_MAGIC, 16#03f1a300).
-define(REP_OK, 1).   % INET_REP_OK

legacy_test_() ->
    {setup, fun gs_test_lib:start/0,
     [{"process_flag(scheduler, N) binds, for every online scheduler",
       fun binding/0},
      {"one pollset per scheduler", fun pollsets/0},
      {"control requests with and without the OTP 23 offset", fun control/0},
      {"gen_tcp and inet calls on gen_socket ports, side by side",
       fun() -> {T, S} = gs_test_lib:same(fun ?MODULE:dispatch/1),
                ?assertEqual(T, S) end},
      {"gen_tcp:accept on a gen_socket listener gives a gen_socket port",
       fun accept_dispatch/0},
      {"options of later releases: accepted or refused as by gen_tcp",
       fun() -> {T, S} = gs_test_lib:same(fun ?MODULE:newer_options/1),
                ?assertEqual(T, S) end}]}.

%% The seed binds poller processes (and socket owners) with this flag and
%% checks the binding with system_info(scheduler_id) after a yield.
binding() ->
    Online = erlang:system_info(schedulers_online),
    Ran = [bound_run(I) || _ <- lists:seq(1, 5), I <- lists:seq(1, Online)],
    ?assertEqual([{I, I} || _ <- lists:seq(1, 5), I <- lists:seq(1, Online)],
                 Ran).

bound_run(I) ->
    Parent = self(),
    {Pid, MRef} =
        spawn_monitor(
          fun() ->
                  Old = erlang:process_flag(scheduler, I),
                  erlang:yield(),
                  Here = erlang:system_info(scheduler_id),
                  _ = erlang:process_flag(scheduler, Old),
                  Parent ! {self(), {I, Here}}
          end),
    receive
        {Pid, R} -> erlang:demonitor(MRef, [flush]), R;
        {'DOWN', MRef, process, Pid, Reason} -> {I, {crashed, Reason}}
    after 5000 -> exit(Pid, kill), {I, timeout}
    end.

%% A pollset per scheduler (erlang:system_info(schedulers)), numbered
%% 1..N, and sockets spread over them only.
pollsets() ->
    N = erlang:system_info(schedulers),
    Info = gen_socket:info(),
    ?assertEqual(lists:seq(1, N),
                 lists:sort([proplists:get_value(pollset, I) || I <- Info])),
    {L, C, S} = gs_test_lib:pair(gen_socket, ?P),
    Ps = [gen_socket:socket_info(X, pollset) || X <- [L, C, S]],
    [gen_socket:close(X) || X <- [C, S, L]],
    ?assertEqual([], [P || P <- Ps, not (is_integer(P) andalso P >= 1
                                         andalso P =< N)]).

%% R16's prim_inet sends bare request numbers, OTP 23+ adds an offset; the
%% driver gives the same list reply to both.
control() ->
    {L, C, S} = gs_test_lib:pair(gen_socket, ?P),
    Replies = [{Req, erlang:port_control(C, Req, []),
                erlang:port_control(C, Req + ?CTL_MAGIC, [])}
               || Req <- [?REQ_PEER, ?REQ_NAME]],
    {ok, Port} = inet:port(L),
    Peer = inet:peername(C),
    [gen_socket:close(X) || X <- [C, S, L]],
    ?assertEqual([], [R || {_, Bare, Off} = R <- Replies, Bare =/= Off]),
    ?assertEqual([], [R || {_, [Rep | _], _} = R <- Replies, Rep =/= ?REP_OK]),
    ?assertEqual({ok, {{127, 0, 0, 1}, Port}}, Peer),
    %% and a request number the driver does not know is refused in both
    %% forms, never taken for another one
    {L2, C2, S2} = gs_test_lib:pair(gen_socket, ?P),
    Unknown = [catch erlang:port_control(C2, 98, []),
               catch erlang:port_control(C2, 98 + ?CTL_MAGIC, [])],
    [gen_socket:close(X) || X <- [C2, S2, L2]],
    ?assertMatch([X, X], [norm_reply(U) || U <- Unknown]),
    ?assertNotMatch([[?REP_OK | _], _], Unknown).

norm_reply({'EXIT', {Reason, _}}) -> {'EXIT', Reason};
norm_reply(R) -> R.

%% The sockets come from Mod; every call goes through gen_tcp or inet,
%% which find the module from the port (inet_db:lookup_socket/1).
dispatch(Mod) ->
    {ok, L} = Mod:listen(0, [{reuseaddr, true}, {exit_on_close, false} | ?P]),
    {ok, Port} = inet:port(L),
    {ok, C} = Mod:connect({127, 0, 0, 1}, Port, ?P),
    {ok, S} = gen_tcp:accept(L, 5000),
    Peer = inet:peername(C),
    Names = [element(1, inet:sockname(S)), inet:peername(S) =:= inet:sockname(C)],
    R = [Peer =:= {ok, {{127, 0, 0, 1}, Port}}, Names,
         gen_tcp:send(C, <<"via gen_tcp">>), gen_tcp:recv(S, 11, 2000),
         inet:setopts(S, [{active, once}, {packet, raw}]),
         inet:getopts(S, [active, packet, mode, exit_on_close]),
         gen_tcp:send(C, <<"more">>), receive_one(S),
         inet:getopts(S, [active]),
         inet:getstat(S, [recv_oct, send_oct]),
         inet:setopts(S, [{active, false}]),
         gen_tcp:shutdown(C, write), gen_tcp:recv(S, 0, 2000),
         gen_tcp:send(S, <<"back">>), gen_tcp:recv(C, 0, 2000),
         gen_tcp:controlling_process(S, self()),
         gen_tcp:close(S), gen_tcp:close(C), gen_tcp:close(L)],
    R.

receive_one(S) ->
    receive
        {tcp, S, D} -> {tcp, D};
        {tcp_closed, S} -> tcp_closed
    after 2000 -> none
    end.

accept_dispatch() ->
    {ok, L} = gen_socket:listen(0, [{reuseaddr, true} | ?P]),
    {ok, Port} = inet:port(L),
    {ok, C} = gen_tcp:connect({127, 0, 0, 1}, Port, ?P),
    {ok, S} = gen_tcp:accept(L, 5000),
    Found = [inet_db:lookup_socket(X) || X <- [L, S]],
    {ok, TL} = gen_tcp:listen(0, ?P),
    TcpFound = inet_db:lookup_socket(TL),
    [gen_tcp:close(X) || X <- [C, S, L, TL]],
    ?assertEqual([{ok, gen_socket}, {ok, gen_socket}], Found),
    ?assertEqual({ok, inet_tcp}, TcpFound).

%% Options that came after R16B01 (or are connect-only): on each release
%% gen_socket takes or refuses them as that release's gen_tcp does, at
%% listen, at connect and at inet:setopts/2.  bind_to_device, recvtos,
%% recvttl, ttl and tclass are compared on R16B01 only for now: on the
%% current OTP gen_socket does not take them yet (the gaps branch adds
%% them; then the filter goes).
newer_options(Mod) ->
    {ok, L} = Mod:listen(0, [{reuseaddr, true}, {backlog, 64} | ?P]),
    {ok, Port} = inet:port(L),
    Opts = [{active, 3}, {active, -1}, {show_econnreset, true},
            {inet_backend, inet}, {inet_backend, socket}, {reuseport, true},
            {line_delimiter, $x}, {high_msgq_watermark, 100},
            {packet, http_bin}]
        ++ [O || gs_compat:legacy(),
                 O <- [{bind_to_device, <<"lo">>}, {recvtos, true},
                       {recvttl, true}, {ttl, 4}, {tclass, 3}]],
    R = [{O, opened(catch Mod:listen(0, [O])),
          opened(catch Mod:connect({127, 0, 0, 1}, Port, [O])),
          setopts_on_new(Mod, Port, O)}
         || O <- Opts],
    Mod:close(L),
    R.

opened({ok, S}) -> gen_tcp:close(S), ok;   % gen_tcp:close/1 dispatches
opened({'EXIT', {Reason, [_ | _]}}) -> {'EXIT', Reason};
opened(Other) -> Other.

setopts_on_new(Mod, Port, O) ->
    {ok, C} = Mod:connect({127, 0, 0, 1}, Port, ?P),
    R = inet:setopts(C, [O]),
    Mod:close(C),
    R.

