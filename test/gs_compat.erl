%% Release differences for the test suites, so that the suites
%% `make test-legacy' runs (see LEGACY_TESTS in the Makefile) work on
%% R16B01 as on the current OTP.  R16-clean itself: compiled by R16's erlc.
-module(gs_compat).

-export([legacy/0, applies/2, same_refusal/2]).

%% A release before OTP 17: their names start with "R" (R16B01).
legacy() ->
    case erlang:system_info(otp_release) of
        [$R | _] -> true;
        _ -> false
    end.

%% Whether scenario Name of suite Module applies to the running release.
%% Every side-by-side scenario runs everywhere: where both gen_tcp and
%% gen_socket refuse a newer option, same_refusal/2 compares the refusals.
%% Only the scenarios in not_on_legacy/0 are left out before OTP 17, each
%% for the reason given there.
%% Name: an atom, or a string (the test's title).
applies(Module, Name) when is_list(Name) ->
    applies(Module, list_to_atom(Name));
applies(Module, Name) ->
    not (legacy() andalso lists:member({Module, Name}, not_on_legacy())).

%% {Module, Scenario} pairs left out before OTP 17.  Two kinds:
not_on_legacy() ->
    needs_newer_release() ++ known_differences().

%% What the release does not have at all: no gen_tcp of it can be the
%% specification (both sides refusing is not a scenario worth running).
needs_newer_release() ->
    [{gen_socket_echo_tests, multi}].        % {active, N}: OTP 17

%% Where R16B01's gen_tcp behaves otherwise than the current one and
%% gen_socket keeps the current behaviour (README, "Supported releases",
%% lists them with R16B01's results).
known_differences() ->
    [%% recv after the EOF closed the socket (exit_on_close): R16B01
     %% {error, ebadf}, gen_socket {error, enotconn} as OTP 17+
     {gen_socket_compat_tests, recv_after_peer_close},
     {gen_socket_behaviour_tests, recv_length_then_eof},
     {gen_socket_packet_tests, http_closed},
     %% recv/send/shutdown after both sides shut down: R16B01 answers the
     %% first with {error, closed}, gen_socket all with {error, enotconn}
     {gen_socket_compat_tests, shutdown_write},
     %% {active, true} after a passive recv saw EOF: R16B01 sends no
     %% tcp_closed, gen_socket does (as OTP 25)
     {gen_socket_compat_tests, after_eof_active},
     %% recbuf after an explicit buffer: R16B01 raises buffer to the
     %% recbuf, gen_socket keeps the explicit buffer (as OTP 25)
     {gen_socket_compat_tests, recbuf_bumps_buffer},
     %% connect to port 0: R16B01's gen_tcp crashes (function_clause in
     %% prim_inet:connect0/4), gen_socket returns econnrefused as OTP 25
     {gen_socket_behaviour_tests, connect_port_zero},
     %% listen with {fd, Fd} of an unbound socket and {ip, IP}: R16B01
     %% ignores the ip (sockname 0.0.0.0), gen_socket binds it
     {gen_socket_options_tests, fd_listen_bind},
     %% {fd, foo}: R16B01's gen_tcp crashes (function_clause in
     %% prim_inet:fdopen/4), gen_socket opens a new socket as OTP 25
     {gen_socket_options_tests, fd_bad}].

%% gs_test_lib:same/1 treats a crash as a failure.  On a legacy release a
%% scenario that uses an option its gen_tcp does not know crashes on both
%% sides (e.g. {ok, L} = Mod:listen(0, [{active, 2}]) is a badmatch with
%% badarg): that is a match when both crashed with the same reason at the
%% same line of the scenario.  {true, Term} then, Term the common result;
%% else false.  Never on a current release, and never for undef (a test
%% that calls a function the release lacks is a broken test, not a match).
same_refusal({crashed, RT}, {crashed, RS}) ->
    case legacy() of
        true -> compare(refusal(RT), refusal(RS));
        false -> false
    end;
same_refusal(_, _) ->
    false.

compare({_, _} = X, X) -> {true, {refused, X}};
compare(_, _) -> false.

%% {Reason, {Module, Function, Line}}: the reason without its stack, and
%% the first frame in a test module (*_tests) of the stack.
refusal({undef, _}) ->
    false;
refusal({Reason, Stack}) when is_list(Stack) ->
    case [{M, F, line(I)} || {M, F, _, I} <- Stack, is_test_module(M)] of
        [Where | _] -> {gs_test_lib:norm(Reason), Where};
        [] -> false
    end;
refusal(badarg) ->
    %% gen_tcp of R16 refuses an unknown option with exit(badarg): no stack
    {badarg, no_stack};
refusal(_) ->
    false.

is_test_module(M) ->
    lists:suffix("_tests", atom_to_list(M)).

line(Info) when is_list(Info) -> proplists:get_value(line, Info);
line(_) -> undefined.
