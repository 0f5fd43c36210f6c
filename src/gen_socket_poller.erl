%% @doc The poller of one pollset: bound to its scheduler, it owns the
%% pollset's port and drives the libev loop there while events come.
%%
%% The watcher thread signals (message {'$gen_socket_poll', Port}) when
%% epoll reports events; the poller then runs non-blocking rounds
%% (port_control POLL: the socket callbacks run inside it, on this
%% scheduler), yielding between them, and hands the loop back to the
%% watcher after a few empty rounds.
-module(gen_socket_poller).
-behaviour(gen_server).

-export([start_link/2, info/1]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2,
         terminate/2, code_change/3]).

-include("gen_socket_int.hrl").

%% Empty rounds before the loop goes back to the watcher thread.
-define(EMPTY_ROUNDS, 2).
%% Rounds before the poller looks at its mailbox again.
-define(MAX_ROUNDS, 200).

-record(st, {index :: pos_integer(), port :: port()}).

-spec start_link(pos_integer(), boolean()) -> {ok, pid()} | {error, term()}.
start_link(Index, Bind) ->
    gen_server:start_link(?MODULE, [Index, Bind], []).

-spec info(pid()) -> [{atom(), non_neg_integer()}].
info(Pid) ->
    gen_server:call(Pid, info).

-spec init([term()]) -> {ok, #st{}} | {stop, term()}.
init([Index, Bind]) ->
    process_flag(trap_exit, true),
    case Bind of
        true ->
            catch erlang:process_flag(scheduler, Index),
            %% The binding takes effect once we are rescheduled; the port
            %% must be opened on the new run queue.
            erlang:yield();
        false ->
            ok
    end,
    Port = erlang:open_port({spawn_driver, ?GS_DRIVER}, [binary]),
    case erlang:port_control(Port, ?GS_REQ_POLLER_START, <<Index:32>>) of
        <<?GS_REP_OK>> -> {ok, #st{index = Index, port = Port}};
        <<?GS_REP_ERROR, E/binary>> -> {stop, {pollset, binary_to_atom(E, latin1)}}
    end.

-spec handle_call(term(), {pid(), term()}, #st{}) -> {reply, term(), #st{}}.
handle_call(info, _From, #st{port = Port} = St) ->
    <<?GS_REP_OK, Index:32, Sockets:32, Rounds:64, Wakeups:64, Events:64,
      WatcherEvents:64>> = erlang:port_control(Port, ?GS_REQ_INFO, <<>>),
    {reply, [{pollset, Index}, {scheduler, Index}, {sockets, Sockets},
             {rounds, Rounds}, {wakeups, Wakeups}, {events, Events},
             {watcher_events, WatcherEvents}], St};
handle_call(_, _From, St) ->
    {reply, {error, badarg}, St}.

-spec handle_cast(term(), #st{}) -> {noreply, #st{}}.
handle_cast(_, St) ->
    {noreply, St}.

-spec handle_info(term(), #st{}) -> {noreply, #st{}} | {stop, term(), #st{}}.
handle_info({?GS_POLL_TAG, Port}, #st{port = Port} = St) ->
    drive(Port, 0, ?MAX_ROUNDS),
    {noreply, St};
handle_info({?GS_EXIT_TAG, Socket}, St) ->
    %% A socket reported its end ({tcp_closed, S}, exit_on_close): its
    %% port ends, as inet_drv's does; this call runs in that port's own
    %% callback, where the driver may end it (see gs_socket.c).
    catch erlang:port_control(Socket, ?GS_REQ_EXIT, <<>>),
    {noreply, St};
handle_info({'EXIT', Port, Reason}, #st{port = Port} = St) ->
    {stop, {pollset_port, Reason}, St};
handle_info(_, St) ->
    {noreply, St}.

-spec terminate(term(), #st{}) -> ok.
terminate(_, #st{port = Port}) ->
    catch erlang:port_close(Port),
    ok.

-spec code_change(term(), #st{}, term()) -> {ok, #st{}}.
code_change(_, St, _) ->
    {ok, St}.

drive(Port, _Empty, 0) ->
    %% Still busy: let system messages in, then go on.
    self() ! {?GS_POLL_TAG, Port};
drive(Port, Empty, Rounds) ->
    case erlang:port_control(Port, ?GS_REQ_POLL, <<>>) of
        <<?GS_REP_OK, 0:32>> when Empty >= ?EMPTY_ROUNDS ->
            case erlang:port_control(Port, ?GS_REQ_HANDBACK, <<>>) of
                <<?GS_REP_OK>> -> ok;
                _ -> drive(Port, 0, Rounds - 1)
            end;
        <<?GS_REP_OK, 0:32>> ->
            erlang:yield(),
            drive(Port, Empty + 1, Rounds - 1);
        <<?GS_REP_OK, _:32>> ->
            erlang:yield(),
            drive(Port, 0, Rounds - 1);
        <<?GS_REP_ERROR>> ->
            ok      % not ours to drive (a stale signal)
    end.
