%% Side by side, the IP-level options gen_tcp takes on OTP 25 that
%% gen_socket refused: ttl, recvttl, recvtos, recvtclass, tclass,
%% bind_to_device, nopush, and the pktoptions they feed; at listen, at
%% connect, with inet:setopts/2, read back with inet:getopts/2, on IPv4 and
%% IPv6.  Values that reach the driver (prim_inet encodes them) and that
%% the kernel refuses are included, so the driver's answer is tested, not
%% only OTP's checks.
-module(gen_socket_ipopts_tests).
-include_lib("eunit/include/eunit.hrl").

-import(gs_test_lib, [pair/2]).

-define(P, [binary, {active, false}]).
-define(KEYS, [ttl, recvttl, recvtos, recvtclass, tclass, bind_to_device,
               nopush, pktoptions]).

ipopts_test_() ->
    {setup, fun gs_test_lib:start/0,
     [{Name, {timeout, 60, fun() -> same(F) end}} || {Name, F} <- scenarios()]}.

same(F) ->
    {T, S} = gs_test_lib:same(F),
    ?assertEqual(T, S).

name(Fmt, Args) -> lists:flatten(io_lib:format(Fmt, Args)).

values() ->
    [{ttl, 7}, {ttl, 1}, {ttl, 255}, {ttl, 256}, {ttl, 0}, {ttl, -1},
     {ttl, foo},
     {recvttl, true}, {recvttl, false}, {recvttl, 1},
     {recvtos, true}, {recvtos, false}, {recvtos, 1},
     {recvtclass, true}, {recvtclass, false},
     {tclass, 0}, {tclass, 8}, {tclass, 255}, {tclass, 256}, {tclass, -1},
     {bind_to_device, <<"lo">>}, {bind_to_device, <<>>},
     {bind_to_device, <<"gs_no_such_dev">>},
     {bind_to_device, binary:copy(<<"x">>, 40)}, {bind_to_device, "lo"},
     {nopush, true}, {nopush, false}, {nopush, 1}].

scenarios() ->
    [{name("getopts ~p ~p", [F, K]), fun(Mod) -> getopt(Mod, F, K) end}
     || F <- [inet, inet6], K <- ?KEYS] ++
    [{"getopts all", fun(Mod) -> getopt(Mod, inet, ?KEYS) end},
     {"getopts all inet6", fun(Mod) -> getopt(Mod, inet6, ?KEYS) end}] ++
    [{name("setopts ~p ~p", [F, O]), fun(Mod) -> setopt(Mod, F, O) end}
     || F <- [inet, inet6], O <- values()] ++
    [{name("listen ~p", [O]), fun(Mod) -> listen_opt(Mod, O) end}
     || O <- values()] ++
    [{name("connect ~p", [O]), fun(Mod) -> connect_opt(Mod, O) end}
     || O <- values()] ++
    [{"several at once", fun several/1},
     {"pktoptions after recv", fun pktoptions_after_recv/1},
     {"nopush holds and releases data", fun nopush_data/1},
     {"accepted socket inherits", fun accepted/1}].

family_pair(Mod, inet) ->
    pair(Mod, ?P);
family_pair(Mod, inet6) ->
    {ok, L} = Mod:listen(0, [inet6, {ip, {0, 0, 0, 0, 0, 0, 0, 1}} | ?P]),
    {ok, Port} = inet:port(L),
    {ok, C} = Mod:connect({0, 0, 0, 0, 0, 0, 0, 1}, Port, [inet6 | ?P]),
    {ok, S} = Mod:accept(L, 5000),
    {L, C, S}.

close_all(Mod, Socks) ->
    [Mod:close(X) || X <- Socks],
    ok.

getopt(Mod, F, Keys) when is_list(Keys) ->
    {L, C, S} = family_pair(Mod, F),
    R = [inet:getopts(X, Keys) || X <- [L, C, S]],
    close_all(Mod, [L, C, S]),
    R;
getopt(Mod, F, K) ->
    getopt(Mod, F, [K]).

key({K, _}) -> K.

setopt(Mod, F, O) ->
    {L, C, S} = family_pair(Mod, F),
    R = [{inet:setopts(X, [O]), inet:getopts(X, [key(O)])} || X <- [L, C, S]],
    close_all(Mod, [L, C, S]),
    R.

listen_opt(Mod, O) ->
    case catch Mod:listen(0, [O | ?P]) of
        {ok, L} ->
            R = inet:getopts(L, [key(O)]),
            Mod:close(L),
            {ok, R};
        Other ->
            Other
    end.

connect_opt(Mod, O) ->
    {ok, L} = Mod:listen(0, ?P),
    {ok, Port} = inet:port(L),
    R = case catch Mod:connect({127, 0, 0, 1}, Port, [O | ?P], 5000) of
            {ok, C} ->
                G = inet:getopts(C, [key(O)]),
                Mod:close(C),
                {ok, G};
            Other ->
                Other
        end,
    Mod:close(L),
    R.

%% A list stops at the first option the kernel refuses; those before it
%% stay set.
several(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    R = [inet:setopts(C, [{ttl, 9}, {recvtos, true}, {tclass, 4},
                          {nopush, true}]),
         inet:getopts(C, ?KEYS),
         inet:setopts(C, [{ttl, 12}, {bind_to_device, <<"lo">>}]),
         inet:getopts(C, ?KEYS)],
    close_all(Mod, [L, C, S]),
    R.

pktoptions_after_recv(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = inet:setopts(C, [{recvtos, true}, {recvttl, true}]),
    ok = inet:setopts(S, [{tos, 16#20}]),
    ok = Mod:send(S, <<"x">>),
    R = [Mod:recv(C, 1, 5000), inet:getopts(C, [pktoptions]),
         inet:getopts(S, [pktoptions])],
    close_all(Mod, [L, C, S]),
    R.

%% nopush (TCP_CORK): a small send waits while it is on and goes when it
%% is turned off.
nopush_data(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = inet:setopts(S, [{nopush, true}]),
    ok = Mod:send(S, <<"corked">>),
    R1 = Mod:recv(C, 0, 100),
    ok = inet:setopts(S, [{nopush, false}]),
    R2 = Mod:recv(C, 0, 5000),
    close_all(Mod, [L, C, S]),
    [R1, R2].

accepted(Mod) ->
    {ok, L} = Mod:listen(0, [{ttl, 33}, {recvtos, true} | ?P]),
    {ok, Port} = inet:port(L),
    {ok, C} = Mod:connect({127, 0, 0, 1}, Port, ?P),
    {ok, S} = Mod:accept(L, 5000),
    R = [inet:getopts(X, ?KEYS) || X <- [L, C, S]],
    close_all(Mod, [L, C, S]),
    R.
