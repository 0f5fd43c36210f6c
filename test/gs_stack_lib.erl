%% Helpers for the suites that run gen_socket under third-party stacks:
%% the pinned ranch / cowlib / cowboy of <repo>/../shared/thirdparty,
%% compiled with plain erlc (as its README says) into a cache directory
%% under /tmp, never into the source tree; and a raw HTTP/1.1 client
%% on gen_tcp that reads responses as bytes.
-module(gs_stack_lib).

-export([thirdparty/0, repo_root/0, stop_child/2,
         http_exchange/2, read_response/2, read_all/2, normalise/1]).

%%% ---- the third-party libraries --------------------------------------------

%% The directory above this beam that holds gen_socket.app.src (the
%% beam is in test/, or in bench/bin/ for the benchmark).
repo_root() ->
    root_above(filename:dirname(filename:absname(code:which(?MODULE)))).

root_above("/") -> erlang:error(no_repo_root);
root_above(Dir) ->
    case filelib:is_file(filename:join(Dir, "gen_socket.app.src")) of
        true -> Dir;
        false -> root_above(filename:dirname(Dir))
    end.

%% Builds ranch, cowlib and cowboy once per pinned version set and OTP
%% (a directory named by their hash; a half-built one is never seen:
%% it is built aside and renamed into place), adds their ebin
%% directories to the code path and returns them.
thirdparty() ->
    Src = filename:join([repo_root(), "..", "shared", "thirdparty"]),
    {ok, Versions} = file:read_file(filename:join(Src, "VERSIONS")),
    Key = erlang:phash2({Versions, erlang:system_info(otp_release),
                         erlang:system_info(version)}),
    Out = lists:flatten(io_lib:format("/tmp/gen_socket_thirdparty_~s_~.16b",
                                      [os:getenv("USER", "u"), Key])),
    case filelib:is_file(filename:join(Out, "done")) of
        true -> ok;
        false -> build(Src, Out)
    end,
    Ebins = [filename:join([Out, App, "ebin"]) || App <- ["ranch", "cowlib", "cowboy"]],
    ok = code:add_pathsa(Ebins),
    Ebins.

build(Src, Out) ->
    Tmp = lists:flatten(io_lib:format("~s.tmp.~s.~p", [Out, os:getpid(),
                                                      erlang:unique_integer([positive])])),
    [ok = filelib:ensure_dir(filename:join([Tmp, App, "ebin", "x"]))
     || App <- ["ranch", "cowlib", "cowboy"]],
    E = fun(App) -> filename:join([Tmp, App, "ebin"]) end,
    S = fun(Path) -> filename:join(Src, Path) end,
    erlc(["-I", S("cowlib/include"), "-o", E("cowlib") | wild(S("cowlib/src"))]),
    erlc(["-o", E("ranch") | wild(S("ranch/src"))]),
    erlc(["-pa", E("cowlib"), "-pa", E("ranch"), "-I", Src, "-o", E("cowboy")
          | wild(S("cowboy/src"))]),
    [{ok, _} = file:copy(S(App ++ "/ebin/" ++ App ++ ".app"),
                         filename:join(E(App), App ++ ".app"))
     || App <- ["ranch", "cowlib", "cowboy"]],
    ok = file:write_file(filename:join(Tmp, "done"), <<>>),
    case file:rename(Tmp, Out) of
        ok -> ok;
        {error, _} -> os:cmd("rm -rf '" ++ Tmp ++ "'"), ok   % built by another run
    end.

wild(Dir) ->
    lists:sort(filelib:wildcard(filename:join(Dir, "*.erl"))).

erlc(Args) ->
    Erlc = os:find_executable("erlc"),
    Port = open_port({spawn_executable, Erlc},
                     [{args, Args}, exit_status, stderr_to_stdout, binary]),
    erlc_wait(Port, []).

erlc_wait(Port, Out) ->
    receive
        {Port, {data, D}} -> erlc_wait(Port, [Out, D]);
        {Port, {exit_status, 0}} -> ok;
        {Port, {exit_status, St}} -> erlang:error({erlc_failed, St, iolist_to_binary(Out)})
    end.

%%% ---- raw HTTP/1.1 client ----------------------------------------------------

%% Sends Request (iodata) on a fresh gen_tcp connection to Port and
%% reads until the server closes: the whole response stream, as bytes.
http_exchange(Port, Request) ->
    {ok, C} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    ok = gen_tcp:send(C, Request),
    R = read_all(C, []),
    ok = gen_tcp:close(C),
    R.

read_all(C, Acc) ->
    case gen_tcp:recv(C, 0, 30000) of
        {ok, D} -> read_all(C, [Acc, D]);
        {error, closed} -> iolist_to_binary(Acc);
        {error, E} -> {error, E, iolist_to_binary(Acc)}
    end.

%% One response with a content-length (or none: no body) from C, given
%% what was already read; returns {Response, Rest}.
read_response(C, Buf) ->
    case binary:split(Buf, <<"\r\n\r\n">>) of
        [Head, Body0] ->
            Len = content_length(Head),
            Body = read_n(C, Body0, Len),
            <<B:Len/binary, Rest/binary>> = Body,
            {<<Head/binary, "\r\n\r\n", B/binary>>, Rest};
        [_] ->
            {ok, D} = gen_tcp:recv(C, 0, 30000),
            read_response(C, <<Buf/binary, D/binary>>)
    end.

read_n(_C, Buf, Len) when byte_size(Buf) >= Len -> Buf;
read_n(C, Buf, Len) ->
    {ok, D} = gen_tcp:recv(C, 0, 30000),
    read_n(C, <<Buf/binary, D/binary>>, Len).

content_length(Head) ->
    Lines = binary:split(Head, <<"\r\n">>, [global]),
    case [V || L <- Lines,
               [K, V] <- [binary:split(L, <<":">>)],
               string:lowercase(K) =:= <<"content-length">>] of
        [V] -> binary_to_integer(string:trim(V));
        [] -> 0
    end.

%% The date header is the only part of a response that depends on when
%% it was made: replaced by a fixed value.
normalise(Bin) when is_binary(Bin) ->
    re:replace(Bin, <<"\r\ndate: [^\r]*\r\n">>, <<"\r\ndate: -\r\n">>,
               [global, {return, binary}, caseless]);
normalise(Other) ->
    Other.

%%% ---- the init:stop child node -------------------------------------------------

%% Runs in a child VM (gen_socket_cowboy_stop_tests): starts gen_socket
%% and cowboy in the order given, a cowboy listener on Transport, prints
%% "READY <port>", and calls init:stop() when a line arrives on stdin.
stop_child(Order, Transport) ->
    Apps = case Order of
               gen_socket_first -> [gen_socket, cowboy];
               cowboy_first -> [cowboy, gen_socket]
           end,
    [{ok, _} = application:ensure_all_started(A) || A <- Apps],
    Routes = cowboy_router:compile([{'_', [{"/hello", gen_socket_cowboy_tests, hello}]}]),
    {ok, _} = ranch:start_listener(stop_test, Transport,
                                   #{socket_opts => [{ip, {127, 0, 0, 1}}, {port, 0}]},
                                   cowboy_clear, #{env => #{dispatch => Routes}}),
    io:format("READY ~p~n", [ranch:get_port(stop_test)]),
    spawn(fun() ->
                  _ = io:get_line(""),
                  io:format("STOPPING~n"),
                  init:stop()
          end),
    ok.
