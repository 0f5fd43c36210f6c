%% @doc The gen_socket application: one pollset per scheduler.
-module(gen_socket_app).
-behaviour(application).

-export([start/2, stop/1]).

-spec start(application:start_type(), term()) -> {ok, pid()} | {error, term()}.
start(_Type, _Args) ->
    BindPoller = env(bind_scheduler, true),
    Policy = env(bind_socket_policy, 1),
    io:format("BindPoller=~p, BindSocketPolicy=~p~n", [BindPoller, Policy]),
    gen_socket_sup:start_link(BindPoller, Policy).

-spec stop(term()) -> ok.
stop(_State) ->
    ok.

env(Key, Default) ->
    case application:get_env(gen_socket, Key) of
        {ok, V} -> V;
        undefined -> Default
    end.
