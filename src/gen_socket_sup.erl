%% @doc Loads the driver and supervises one poller per scheduler.
-module(gen_socket_sup).
-behaviour(supervisor).

-export([start_link/2, pollset_info/0]).
-export([init/1]).

-include("gen_socket_int.hrl").

-spec start_link(boolean(), 0 | 1 | 2) -> {ok, pid()} | {error, term()}.
start_link(BindPoller, Policy) ->
    supervisor:start_link({local, ?MODULE}, ?MODULE, [BindPoller, Policy]).

%% @doc Counters of every running pollset, in scheduler order.
-spec pollset_info() -> [[{atom(), non_neg_integer()}]].
pollset_info() ->
    Pollers = [Pid || {{gen_socket_poller, _}, Pid, _, _}
                          <- lists:sort(supervisor:which_children(?MODULE)),
                      is_pid(Pid)],
    [gen_socket_poller:info(Pid) || Pid <- Pollers].

-spec init([term()]) -> {ok, {{one_for_one, integer(), integer()}, [supervisor:child_spec()]}}.
init([BindPoller, Policy]) ->
    ok = load_driver(),
    ok = set_policy(Policy),
    N = erlang:system_info(schedulers),
    Children = [{{gen_socket_poller, I},
                 {gen_socket_poller, start_link, [I, BindPoller]},
                 permanent, 5000, worker, [gen_socket_poller]}
                || I <- lists:seq(1, N)],
    {ok, {{one_for_one, 10, 10}, Children}}.

load_driver() ->
    Dir = priv_dir(),
    case erl_ddll:load_driver(Dir, ?GS_DRIVER) of
        ok -> ok;
        {error, already_loaded} -> ok;
        {error, permanent} -> ok;
        {error, Reason} -> {error, {gen_socket_drv, Dir, erl_ddll:format_error(Reason)}}
    end.

%% code:priv_dir/1 needs the application directory to be named after the
%% application; a checkout started with `erl -pa ebin' need not be.
priv_dir() ->
    case code:priv_dir(gen_socket) of
        Dir when is_list(Dir) ->
            case filelib:is_file(filename:join(Dir, ?GS_DRIVER ++ ".so")) of
                true -> Dir;
                false -> beam_priv_dir()
            end;
        _ ->
            beam_priv_dir()
    end.

beam_priv_dir() ->
    filename:join(filename:dirname(filename:dirname(code:which(?MODULE))), "priv").

set_policy(Policy) when Policy =:= 0; Policy =:= 1; Policy =:= 2 ->
    P = erlang:open_port({spawn_driver, ?GS_DRIVER}, [binary]),
    <<?GS_REP_OK>> = erlang:port_control(P, ?GS_REQ_SET_POLICY, <<Policy>>),
    erlang:port_close(P),
    ok.
