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
applies(Module, Name) ->
    not (legacy() andalso lists:member({Module, Name}, not_on_legacy())).

%% {Module, Scenario} pairs that test what R16B01 does not have at all, so
%% that no gen_tcp of that release can be the specification for them.
not_on_legacy() ->
    [].

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
refusal(_) ->
    false.

is_test_module(M) ->
    lists:suffix("_tests", atom_to_list(M)).

line(Info) when is_list(Info) -> proplists:get_value(line, Info);
line(_) -> undefined.
