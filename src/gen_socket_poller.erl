%% @doc The poller of one pollset: placed on its scheduler (best effort,
%% gen_socket_sched; never left bound), it owns the pollset's port and
%% drives the libev loop there while events come.  When the pollset goes
%% away (terminate, or a poller killed and restarted), the ports of the
%% sockets it had are closed, so they answer as closed gen_tcp ports.
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
-define(MAX_ROUNDS, 10).
%% Wake-ups between two checks that the poller is still on its scheduler.
-define(HOME_CHECK, 64).

-record(st, {index :: pos_integer(), port :: port(), bind :: boolean(),
             wakeups = 0 :: non_neg_integer()}).

-spec start_link(pos_integer(), boolean()) -> {ok, pid()} | {error, term()}.
start_link(Index, Bind) ->
    gen_server:start_link(?MODULE, [Index, Bind], []).

-spec info(pid()) -> [{atom(), non_neg_integer()}].
info(Pid) ->
    gen_server:call(Pid, info).

-spec init([term()]) -> {ok, #st{}} | {stop, term()}.
init([Index, Bind]) ->
    process_flag(trap_exit, true),
    %% On its scheduler before it opens the port: the port's tasks run on
    %% the run queue it was opened on.  Never a precondition.
    _ = Bind andalso gen_socket_sched:move_to(Index),
    Port = erlang:open_port({spawn_driver, ?GS_DRIVER}, [binary]),
    case erlang:port_control(Port, ?GS_REQ_POLLER_START, <<Index:32>>) of
        <<?GS_REP_OK>> ->
            %% Sockets of a pollset that died before this one (a killed
            %% poller) still have open ports: close them.
            close_orphans(),
            {ok, #st{index = Index, port = Port, bind = Bind}};
        <<?GS_REP_ERROR, E/binary>> ->
            {stop, {pollset, binary_to_atom(E, latin1)}}
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
    St1 = home(St),
    drive(Port, 0, ?MAX_ROUNDS),
    {noreply, St1};
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
    %% The pollset ends every socket on it (waiters, tcp_closed, fds),
    %% then their ports are closed.
    catch erlang:port_close(Port),
    close_orphans(),
    ok.

-spec code_change(term(), #st{}, term()) -> {ok, #st{}}.
code_change(_, St, _) ->
    {ok, St}.

%% Back to its scheduler if the VM moved the poller away (scheduler
%% offline then online again, load balancing), now and then.
home(#st{bind = false} = St) ->
    St;
home(#st{wakeups = W} = St) when W < ?HOME_CHECK ->
    St#st{wakeups = W + 1};
home(#st{index = Index} = St) ->
    _ = gen_socket_sched:move_to(Index),
    St#st{wakeups = 0}.

%% The ports of sockets whose pollset went away: closed, so that every
%% later call on them gets what a closed gen_tcp port gives.
close_orphans() ->
    P = erlang:open_port({spawn_driver, ?GS_DRIVER}, [binary]),
    Orphans = case catch erlang:port_control(P, ?GS_REQ_ORPHANS, <<>>) of
                  <<?GS_REP_SENT>> -> receive {?GS_TAG, P, L} -> L end;
                  _ -> []
              end,
    catch erlang:port_close(P),
    _ = [catch erlang:port_close(S) || S <- Orphans],
    ok.

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
