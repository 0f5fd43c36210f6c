%% R16B01 has no `rand' (OTP 18); this stand-in, on the code path of
%% `make test-legacy' only (never in test/, so never on a current OTP),
%% gives the test modules the few calls they use, on top of `random'.
%% Reproducible seeds stay reproducible; the sequences differ from rand's.
-module(rand).

-export([seed/2, uniform/0, uniform/1]).

seed(_Alg, {A, B, C}) ->
    random:seed(fix(A), fix(B), fix(C)),
    ok.

uniform() ->
    random:uniform().

uniform(N) when is_integer(N), N >= 1 ->
    %% random:uniform/1 is fine up to 2^30; above, combine two draws
    case N =< 1 bsl 30 of
        true -> random:uniform(N);
        false -> ((random:uniform(1 bsl 30) - 1) * (1 bsl 30)
                  + random:uniform(1 bsl 30) - 1) rem N + 1
    end.

%% random wants three non-zero integers below 30269..30323.
fix(X) -> erlang:phash2(X, 30000) + 1.
