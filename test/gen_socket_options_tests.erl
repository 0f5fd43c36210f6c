%% Side by side, options: every option gen_tcp has, set at listen, at
%% connect and with inet:setopts/2, good values and bad, read back with
%% inet:getopts/2; and {fd, Fd}.  The result terms must be gen_tcp's.
-module(gen_socket_options_tests).
-include_lib("eunit/include/eunit.hrl").

-import(gs_test_lib, [pair/2, pair/3]).

-export([setopt/2, listen_opt/2, connect_opt/2, defaults/2,
         fd_listen/1, fd_listen_bind/1, fd_connect/1, fd_connected/1,
         fd_bad/1, fd_wrong_family/1, raw_option/1, linger_close/1,
         reuseport_two/1, delay_send_order/1, tos_priority/1,
         buffer_honoured/1, inet_backend/1]).

-define(P, [binary, {active, false}]).

options_test_() ->
    {setup, fun gs_test_lib:start/0,
     [{Name, {timeout, 60, fun() -> same(F) end}}
      || {Name, F} <- scenarios(), gs_compat:applies(?MODULE, Name)]}.

same(F) ->
    {T, S} = gs_test_lib:same(F),
    ?assertEqual(T, S).

name(Fmt, Args) -> lists:flatten(io_lib:format(Fmt, Args)).

scenarios() ->
    [{name("setopts ~p", [O]), fun(Mod) -> ?MODULE:setopt(Mod, O) end}
     || O <- values()] ++
    [{name("listen ~p", [O]), fun(Mod) -> ?MODULE:listen_opt(Mod, O) end}
     || O <- listen_values()] ++
    [{name("connect ~p", [O]), fun(Mod) -> ?MODULE:connect_opt(Mod, O) end}
     || O <- connect_values()] ++
    [{name("defaults ~p", [K]), fun(Mod) -> ?MODULE:defaults(Mod, K) end}
     || K <- [listen, connect, accept]] ++
    [{atom_to_list(N), fun(Mod) -> ?MODULE:N(Mod) end}
     || N <- [fd_listen, fd_listen_bind, fd_connect, fd_connected, fd_bad,
              fd_wrong_family, raw_option, linger_close, reuseport_two,
              delay_send_order, tos_priority, buffer_honoured,
              inet_backend]].

%% Options as inet:setopts/2 takes them, good and bad values.
values() ->
    Bool = fun(K) -> [{K, true}, {K, false}, {K, 1}] end,
    Ints = fun(K, L) -> [{K, V} || V <- L] end,
    [{active, true}, {active, once}, {active, 5}, {active, -3}, {active, 0},
     {active, 40000}, {active, foo},
     binary, list, {mode, binary}, {mode, list}, {mode, foo}]
    ++ [{packet, P} || P <- [raw, 0, 1, 2, 4, asn1, cdr, sunrm, fcgi, tpkt,
                             line, http, http_bin, httph, httph_bin, ssl_tls,
                             3, 5, foo]]
    ++ Ints(packet_size, [0, 100, 67108864, 1 bsl 31, -1, foo])
    ++ Ints(line_delimiter, [$;, 0, 255, 256, -1])
    ++ Ints(header, [0, 5, -1, foo])
    ++ Ints(buffer, [1, 4000, 1 bsl 20, 0, -1, foo])
    ++ Ints(recbuf, [4096, 1 bsl 20, 0, -1])
    ++ Ints(sndbuf, [4096, 1 bsl 20, 0, -1])
    ++ lists:append([Bool(K) || K <- [nodelay, keepalive, reuseaddr, reuseport,
                                      reuseport_lb, dontroute, exit_on_close,
                                      show_econnreset, send_timeout_close,
                                      delay_send]])
    ++ [{linger, {true, 5}}, {linger, {false, 0}}, {linger, {true, 0}},
        {linger, {true, -1}}, {linger, true}]
    ++ Ints(priority, [0, 3, 6, -1, foo])
    ++ Ints(tos, [16#10, 0, 255, -1])
    ++ Ints(send_timeout, [100, infinity, 0, -1, foo])
    ++ Ints(high_watermark, [100, 1 bsl 20, 0, -1])
    ++ Ints(low_watermark, [100, 1 bsl 20, 0, -1])
    ++ Ints(high_msgq_watermark, [1, 1000, 0, -1])
    ++ Ints(low_msgq_watermark, [1, 1000, 0, -1])
    ++ [{deliver, port}, {deliver, term}, {deliver, foo},
        {ipv6_v6only, true}, {nodelay}, nodelay, {foo, 1},
        {raw, 6, 1, <<1:32/native>>}, {raw, 6, 1, foo}, {raw, 6, 1}].

listen_values() ->
    [{backlog, 1}, {backlog, 0}, {backlog, -1}, {backlog, foo},
     {ip, {127, 0, 0, 1}}, {ip, loopback}, {ip, any}, {ip, {1, 2, 3}},
     {ip, {256, 0, 0, 1}}, {ifaddr, {127, 0, 0, 1}}, {ip, "127.0.0.1"},
     {port, -1}, {port, 70000}, {port, foo}, inet, inet6,
     {line_delimiter, $;}, {reuseport, true}, {ipv6_v6only, true},
     {tcp_module, inet_tcp}, {netns, 5}, {debug, false}, {foo, bar}, foo,
     {packet, http}, {active, once}, {exit_on_close, false},
     {send_timeout_close, true}, {high_watermark, 10}, {raw, 6, 1, <<1:32/native>>}].

connect_values() ->
    [{ip, {127, 0, 0, 1}}, {ip, {1, 2, 3}}, {ifaddr, loopback},
     {port, 0}, {port, -1}, {backlog, 5}, inet, {line_delimiter, $;},
     {line_delimiter, 256}, {ipv6_v6only, true}, {reuseport, true},
     {foo, bar}, foo, {packet, line}, {active, 2}, {nodelay, true},
     {delay_send, true}, {linger, {true, 1}}, {buffer, 100},
     {tcp_module, inet_tcp}].

%%% ---- scenarios --------------------------------------------------------------

setopt(Mod, O) ->
    {L, C, S} = pair(Mod, ?P),
    R = [inet:setopts(S, [O]), inet:getopts(S, [key(O)]),
         inet:setopts(L, [O]), inet:getopts(L, [key(O)])],
    [Mod:close(X) || X <- [C, S, L]],
    R.

key({raw, P, O, _}) -> {raw, P, O, 4};
key({K, _}) -> K;
key(binary) -> mode;
key(list) -> mode;
key(K) when is_atom(K) -> K;
key(_) -> bad.

listen_opt(Mod, O) ->
    case catch Mod:listen(0, [O | ?P]) of
        {ok, L} ->
            R = inet:getopts(L, [key(O), active, mode]),
            Name = element(1, element(2, inet:sockname(L))),
            Mod:close(L),
            {ok, R, Name};
        Other ->
            Other
    end.

connect_opt(Mod, O) ->
    {ok, L} = Mod:listen(0, ?P),
    {ok, Port} = inet:port(L),
    R = case catch Mod:connect({127, 0, 0, 1}, Port, [O | ?P], 2000) of
            {ok, C} ->
                G = inet:getopts(C, [key(O), active, mode]),
                Mod:close(C),
                {ok, G};
            Other ->
                Other
        end,
    Mod:close(L),
    R.

%% Every option's value on a socket given only the mode and active.
defaults(Mod, Which) ->
    {L, C, S} = pair(Mod, ?P),
    Sock = case Which of listen -> L; connect -> C; accept -> S end,
    Keys = [packet, packet_size, header, buffer, nodelay, keepalive,
            reuseaddr, dontroute, exit_on_close, show_econnreset,
            send_timeout, send_timeout_close, delay_send, linger, priority,
            tos, high_watermark, low_watermark, high_msgq_watermark,
            low_msgq_watermark, deliver, line_delimiter, reuseport],
    R = [{K, inet:getopts(Sock, [K])} || K <- Keys],
    [Mod:close(X) || X <- [C, S, L]],
    R.

%%% ---- {fd, Fd} ---------------------------------------------------------------
%%
%% The fd comes from a gen_tcp socket (the same provider for both sides);
%% like gen_tcp, gen_socket takes the fd as it is and closes it on close,
%% so the provider is closed right after, with nothing opened between.

fd_listen(Mod) ->
    {ok, P} = gen_tcp:listen(0, [{reuseaddr, true}]),
    {ok, Fd} = inet:getfd(P),
    {ok, L} = Mod:listen(0, [{fd, Fd} | ?P]),
    R1 = [inet:port(L) =:= inet:port(P), inet:getopts(L, [active, mode])],
    {ok, Port} = inet:port(L),
    {ok, C} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    {ok, S} = Mod:accept(L, 2000),
    ok = gen_tcp:send(C, <<"via fd">>),
    R2 = Mod:recv(S, 6, 2000),
    [Mod:close(X) || X <- [S, L]],
    gen_tcp:close(P),
    gen_tcp:close(C),
    [R1, R2].

%% An fd that is open but not bound: {ip, ...} binds it.
fd_listen_bind(Mod) ->
    {ok, O} = prim_inet:open(tcp, inet, stream),
    {ok, Fd} = inet:getfd(O),
    {ok, L} = Mod:listen(0, [{fd, Fd}, {ip, {127, 0, 0, 1}} | ?P]),
    {ok, {Addr, _}} = inet:sockname(L),
    Mod:close(L),
    erlang:port_close(O),
    Addr.

fd_connect(Mod) ->
    {ok, L} = gen_tcp:listen(0, [binary, {active, false}]),
    {ok, Port} = inet:port(L),
    {ok, O} = prim_inet:open(tcp, inet, stream),
    {ok, Fd} = inet:getfd(O),
    {ok, C} = Mod:connect({127, 0, 0, 1}, Port, [{fd, Fd} | ?P]),
    {ok, S} = gen_tcp:accept(L, 2000),
    ok = Mod:send(C, <<"hello">>),
    R = [gen_tcp:recv(S, 5, 2000), inet:peername(C) =:= inet:sockname(S),
         inet:getopts(C, [active, mode])],
    Mod:close(C),
    erlang:port_close(O),
    [gen_tcp:close(X) || X <- [S, L]],
    R.

fd_connected(Mod) ->
    {ok, L} = gen_tcp:listen(0, []),
    {ok, Port} = inet:port(L),
    {ok, C0} = gen_tcp:connect({127, 0, 0, 1}, Port, []),
    {ok, Fd} = inet:getfd(C0),
    R = [Mod:connect({127, 0, 0, 1}, Port, [{fd, Fd} | ?P])],
    gen_tcp:close(C0),
    {ok, C1} = gen_tcp:connect({127, 0, 0, 1}, Port, []),
    {ok, Fd1} = inet:getfd(C1),
    R2 = Mod:listen(0, [{fd, Fd1} | ?P]),
    gen_tcp:close(C1),
    gen_tcp:close(L),
    [R, R2].

%% Not an fd: ebadf; -1 or a non-integer: a new socket, as no fd at all.
fd_bad(Mod) ->
    {ok, L} = gen_tcp:listen(0, []),
    {ok, Port} = inet:port(L),
    R = [Mod:listen(0, [{fd, 100000} | ?P]),
         Mod:connect({127, 0, 0, 1}, Port, [{fd, 100000} | ?P]),
         ok(Mod:listen(0, [{fd, -1} | ?P]), Mod),
         ok(Mod:listen(0, [{fd, foo} | ?P]), Mod),
         ok(Mod:connect({127, 0, 0, 1}, Port, [{fd, -1} | ?P]), Mod)],
    gen_tcp:close(L),
    R.

ok({ok, S}, Mod) -> Mod:close(S), ok;
ok(Other, _) -> Other.

%% An inet6 fd given as inet: einval, and the fd is left alone.
fd_wrong_family(Mod) ->
    {ok, P} = gen_tcp:listen(0, [inet6, {ip, {0, 0, 0, 0, 0, 0, 0, 1}}]),
    {ok, Fd} = inet:getfd(P),
    R = [Mod:listen(0, [{fd, Fd} | ?P]), element(1, inet:sockname(P))],
    gen_tcp:close(P),
    R.

%%% ---- options with effects -----------------------------------------------

%% {raw, Level, Opt, Bin}: TCP_NODELAY (6, 1) set raw, read raw and by name.
raw_option(Mod) ->
    {L, C, S} = pair(Mod, [{raw, 6, 1, <<1:32/native>>} | ?P]),
    R1 = [inet:getopts(C, [{raw, 6, 1, 4}]), inet:getopts(C, [nodelay])],
    ok = inet:setopts(C, [{raw, 6, 1, <<0:32/native>>}]),
    R2 = [inet:getopts(C, [{raw, 6, 1, 4}]), inet:getopts(C, [nodelay]),
          inet:getopts(C, [{raw, 6, 1, foo}]), inet:getopts(C, [{raw, 6, 1, -1}])],
    [Mod:close(X) || X <- [C, S, L]],
    [R1, R2].

%% {linger, {true, 0}}: close resets the connection (the peer sees
%% econnreset with show_econnreset, closed without).
linger_close(Mod) ->
    {L, C, S} = pair(Mod, [{show_econnreset, true} | ?P]),
    ok = inet:setopts(C, [{linger, {true, 0}}]),
    ok = Mod:close(C),
    R1 = Mod:recv(S, 0, 2000),
    {ok, Port} = inet:port(L),
    {ok, C2} = Mod:connect({127, 0, 0, 1}, Port, [{linger, {true, 1}} | ?P]),
    {ok, S2} = Mod:accept(L, 2000),
    ok = Mod:send(C2, <<"before close">>),
    ok = Mod:close(C2),
    R2 = [Mod:recv(S2, 12, 2000), Mod:recv(S2, 0, 2000)],
    [Mod:close(X) || X <- [S, S2, L]],
    [R1, R2].

%% reuseport: two listeners on one port where the release has the
%% option (OTP 26+); before, gen_tcp refuses it with badarg.
reuseport_two(Mod) ->
    case catch Mod:listen(0, [{reuseport, true}, {ip, {127, 0, 0, 1}} | ?P]) of
        {ok, L1} ->
            {ok, Port} = inet:port(L1),
            R = case Mod:listen(Port, [{reuseport, true}, {ip, {127, 0, 0, 1}} | ?P]) of
                    {ok, L2} -> Mod:close(L2), ok;
                    Other -> Other
                end,
            R2 = Mod:listen(Port, [{ip, {127, 0, 0, 1}} | ?P]),
            Mod:close(L1),
            [R, R2];
        Refused ->
            Refused
    end.

%% delay_send batches small sends; data and order are the same.
delay_send_order(Mod) ->
    {L, C, S} = pair(Mod, [{delay_send, true} | ?P]),
    [ok = Mod:send(C, integer_to_list(I) ++ ",") || I <- lists:seq(1, 2000)],
    Want = iolist_size([integer_to_list(I) ++ "," || I <- lists:seq(1, 2000)]),
    R = recv_n(Mod, S, Want, []),
    ok = inet:setopts(C, [{delay_send, false}]),
    ok = Mod:send(C, <<"end">>),
    R2 = Mod:recv(S, 3, 2000),
    [Mod:close(X) || X <- [C, S, L]],
    [R =:= iolist_to_binary([integer_to_list(I) ++ "," || I <- lists:seq(1, 2000)]), R2].

recv_n(_Mod, _S, 0, Acc) -> iolist_to_binary(lists:reverse(Acc));
recv_n(Mod, S, N, Acc) ->
    {ok, D} = Mod:recv(S, 0, 2000),
    recv_n(Mod, S, N - byte_size(D), [D | Acc]).

tos_priority(Mod) ->
    {L, C, S} = pair(Mod, [{tos, 16#10}, {priority, 2} | ?P]),
    R = [inet:getopts(C, [tos, priority]), inet:getopts(S, [tos, priority])],
    [Mod:close(X) || X <- [C, S, L]],
    R.

%% An explicit {buffer, N} caps each read, passive and active, as gen_tcp.
buffer_honoured(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = inet:setopts(S, [{buffer, 100}]),
    ok = Mod:send(C, binary:copy(<<"x">>, 1000)),
    timer:sleep(100),
    R1 = [Mod:recv(S, 0, 1000) || _ <- [1, 2, 3]],
    ok = inet:setopts(S, [{active, true}]),
    R2 = [receive {tcp, S, D} -> D after 500 -> none end || _ <- [1, 2, 3]],
    [Mod:close(X) || X <- [C, S, L]],
    [R1, R2].

%% {inet_backend, inet} first: accepted (gen_socket is the backend);
%% anywhere else badarg; an unknown backend crashes.
inet_backend(Mod) ->
    R1 = case Mod:listen(0, [{inet_backend, inet} | ?P]) of
             {ok, L} ->
                 {ok, Port} = inet:port(L),
                 {ok, C} = Mod:connect({127, 0, 0, 1}, Port, [{inet_backend, inet} | ?P]),
                 {ok, S} = Mod:accept(L, 2000),
                 ok = Mod:send(C, <<"be">>),
                 R = [Mod:recv(S, 2, 2000), inet:getopts(S, [active, mode])],
                 [Mod:close(X) || X <- [C, S, L]],
                 R;
             Other ->
                 Other
         end,
    [R1, catch Mod:listen(0, [binary, {inet_backend, inet}]),
     catch Mod:connect({127, 0, 0, 1}, 1, [binary, {inet_backend, inet}]),
     catch Mod:listen(0, [{inet_backend, foo}])].
