%% @doc Scheduler placement, best effort and never a precondition.
%%
%% `process_flag(scheduler, N)' is undocumented, and on OTP 25 a process
%% bound to a scheduler that is offline (`+S 4:2', `erl +S 3' on two cores,
%% which starts two schedulers online, or `system_flag(schedulers_online,
%% N)' later) is never run again, nor can it be killed, until that
%% scheduler comes back online (doc/design-notes.md, "Scheduler binding").
%% So nothing stays bound: move_to/1 binds only to an online scheduler,
%% yields so that the binding takes effect, checks where it runs, and
%% unbinds at once.  The process then sits on that scheduler's run queue
%% like any process the VM placed there, and the VM moves it elsewhere if
%% the scheduler goes offline.
-module(gen_socket_sched).

-export([move_to/1]).

%% @doc Moves the calling process to scheduler I if I is online; true if
%% it ran there afterwards.  A binding the caller had is restored.
-spec move_to(pos_integer()) -> boolean().
move_to(I) when is_integer(I), I > 0 ->
    case erlang:system_info(scheduler_id) of
        I ->
            true;
        _ ->
            case I =< erlang:system_info(schedulers_online) of
                true -> bind_yield_unbind(I);
                false -> false
            end
    end.

bind_yield_unbind(I) ->
    case catch erlang:process_flag(scheduler, I) of
        Old when is_integer(Old) ->
            erlang:yield(),
            Here = erlang:system_info(scheduler_id),
            _ = erlang:process_flag(scheduler, Old),
            Here =:= I;
        _ ->
            false                       % a VM without the flag
    end.
