%% gen_socket_ranch under the real ranch 2.2 and cowboy 2.18 (pinned in
%% <repo>/../shared/thirdparty, compiled by gs_stack_lib): the same
%% cowboy server on ranch_tcp and on gen_socket_ranch must answer the
%% same HTTP/1.1 requests with the same bytes (date header aside), read
%% by a raw gen_tcp client; and the transport callbacks themselves,
%% side by side with ranch_tcp.
-module(gen_socket_cowboy_tests).

-include_lib("eunit/include/eunit.hrl").

%% cowboy handler, and the logger ranch reports option warnings to
-export([init/2, warning/2]).

-define(BIG, (10 * 1024 * 1024)).
-define(FILE_SIZE, (5 * 1024 * 1024 + 7)).
-define(TRANSPORTS, [ranch_tcp, gen_socket_ranch]).

%%% ---- fixture ---------------------------------------------------------------

cowboy_test_() ->
    {setup, fun setup/0, fun cleanup/1,
     fun(Ctx) ->
             [{"every ranch_transport callback exported", fun callbacks_exported/0},
              {timeout, 60, {"transport callbacks, side by side with ranch_tcp",
                             fun() -> transport_side_by_side(Ctx) end}},
              {timeout, 60, {"keep-alive", fun() -> keepalive(Ctx) end}},
              {timeout, 60, {"pipelined", fun() -> pipelined(Ctx) end}},
              {timeout, 120, {"10 MiB request body echoed", fun() -> big_up(Ctx) end}},
              {timeout, 120, {"10 MiB response body", fun() -> big_down(Ctx) end}},
              {timeout, 60, {"PROXY header (recv_proxy_header, unrecv)",
                             fun() -> proxy_header(Ctx) end}},
              {timeout, 120, {"200 concurrent keep-alive clients",
                              fun() -> concurrent(Ctx) end}},
              {timeout, 60, {"listener suspended and resumed, connections kept",
                             fun() -> suspend_resume(Ctx) end}},
              {timeout, 120, {"HTTP/2 (prior knowledge): hello, echo, 10 MiB down",
                              fun() -> http2(Ctx) end}},
              {timeout, 60, {"static files through sendfile (HTTP/1.1 and HTTP/2)",
                             fun() -> static_files(Ctx) end}},
              {timeout, 60, {"transport sendfile/2,4,5, side by side with ranch_tcp",
                             fun() -> transport_sendfile(Ctx) end}}]
     end}.

setup() ->
    gs_stack_lib:thirdparty(),
    {ok, _} = application:ensure_all_started(cowboy),
    gs_test_lib:start(),
    Dir = lists:flatten(io_lib:format("/tmp/gen_socket_cowboy_~s_~p",
                                      [os:getpid(), erlang:unique_integer([positive])])),
    ok = file:make_dir(Dir),
    File = crypto:strong_rand_bytes(?FILE_SIZE),
    ok = file:write_file(Dir ++ "/file.bin", File),
    ok = file:write_file(Dir ++ "/small.txt", <<"small file\n">>),
    Big = crypto:strong_rand_bytes(?BIG),
    Routes = cowboy_router:compile(
               [{'_', [{"/hello", ?MODULE, hello},
                       {"/echo", ?MODULE, echo},
                       {"/big", ?MODULE, {big, Big}},
                       {"/proxy", ?MODULE, proxy},
                       {"/static/[...]", cowboy_static, {dir, Dir}}]}]),
    Ports = [{{T, Proxy}, start_listener(T, Routes, Proxy)}
             || T <- ?TRANSPORTS, Proxy <- [false, true]],
    #{dir => Dir, file => File, big => Big, ports => Ports}.

cleanup(#{dir := Dir, ports := Ports}) ->
    [ok = ranch:stop_listener({?MODULE, Key}) || {Key, _} <- Ports],
    [file:delete(F) || F <- filelib:wildcard(Dir ++ "/*")],
    file:del_dir(Dir).

%% What cowboy:start_clear/3 gives ranch_tcp, for either transport:
%% a supervisor per connection, cowboy's dynamic receive buffer.
start_listener(Transport, Routes, Proxy) ->
    {ok, _} = ranch:start_listener(
                {?MODULE, {Transport, Proxy}}, Transport,
                #{socket_opts => [{ip, {127, 0, 0, 1}}, {port, 0}, {buffer, 512}],
                  connection_type => supervisor},
                cowboy_clear,
                #{env => #{dispatch => Routes}, connection_type => supervisor,
                  dynamic_buffer => {512, 131072}, proxy_header => Proxy}),
    ranch:get_port({?MODULE, {Transport, Proxy}}).

port(#{ports := Ports}, T, Proxy) -> proplists:get_value({T, Proxy}, Ports).

%% Runs Scenario(Port) on each transport's server; the results must be
%% equal.  Returns ranch_tcp's.
same(Ctx, Scenario) ->
    same(Ctx, Scenario, false).
same(Ctx, Scenario, Proxy) ->
    [Tcp, Gs] = [Scenario(port(Ctx, T, Proxy)) || T <- ?TRANSPORTS],
    ?assertEqual(summary(Tcp), summary(Gs)),
    ?assert(Tcp =:= Gs),
    Tcp.

%% Big binaries are shown by size and hash when they differ.
summary(B) when is_binary(B), byte_size(B) > 4096 -> {byte_size(B), erlang:phash2(B)};
summary(T) when is_tuple(T) -> list_to_tuple(summary(tuple_to_list(T)));
summary(L) when is_list(L) -> [summary(X) || X <- L];
summary(X) -> X.

%%% ---- handler -----------------------------------------------------------------

init(Req, hello) ->
    {ok, cowboy_req:reply(200, #{<<"content-type">> => <<"text/plain">>},
                          <<"hello">>, Req), hello};
init(Req0, echo) ->
    {Body, Req} = read_body(Req0, []),
    {ok, cowboy_req:reply(200, #{}, Body, Req), echo};
init(Req, {big, Big}) ->
    {ok, cowboy_req:reply(200, #{}, Big, Req), big};
init(Req, proxy) ->
    #{proxy_header := #{src_address := Src, src_port := SrcPort,
                        dest_address := Dst, dest_port := DstPort}} = Req,
    Info = io_lib:format("~p ~p ~p ~p", [Src, SrcPort, Dst, DstPort]),
    {ok, cowboy_req:reply(200, #{}, Info, Req), proxy}.

read_body(Req0, Acc) ->
    case cowboy_req:read_body(Req0) of
        {ok, D, Req} -> {iolist_to_binary([Acc, D]), Req};
        {more, D, Req} -> read_body(Req, [Acc, D])
    end.

warning(Format, Args) ->
    self() ! {ranch_warning, lists:flatten(io_lib:format(Format, Args))},
    ok.

%%% ---- requests ----------------------------------------------------------------

req_get(Path) -> req_get(Path, []).
req_get(Path, Headers) ->
    ["GET ", Path, " HTTP/1.1\r\nhost: localhost\r\n",
     [[K, ": ", V, "\r\n"] || {K, V} <- Headers], "\r\n"].

post(Path, Body) -> post(Path, Body, []).
post(Path, Body, Headers) ->
    ["POST ", Path, " HTTP/1.1\r\nhost: localhost\r\n",
     "content-length: ", integer_to_list(iolist_size(Body)), "\r\n",
     [[K, ": ", V, "\r\n"] || {K, V} <- Headers], "\r\n", Body].

close() -> [{"connection", "close"}].

body(Response) ->
    [_, Body] = binary:split(Response, <<"\r\n\r\n">>),
    Body.

%% The status of every response in a stream (bodies here never
%% contain "HTTP/1.1 ").
statuses(Stream) ->
    [hd(binary:split(binary:part(Stream, P + 9, byte_size(Stream) - P - 9), <<"\r\n">>))
     || {P, _} <- binary:matches(Stream, <<"HTTP/1.1 ">>)].

status(Response) ->
    [Line | _] = binary:split(Response, <<"\r\n">>),
    Line.

%%% ---- cases ---------------------------------------------------------------------

callbacks_exported() ->
    gs_stack_lib:thirdparty(),
    Callbacks = ranch_transport:behaviour_info(callbacks),
    Exports = gen_socket_ranch:module_info(exports),
    ?assertEqual([], Callbacks -- Exports),
    ?assert(length(Callbacks) >= 27).

%% One request at a time on one connection, each response read before
%% the next request is sent; the last asks to close.
keepalive(Ctx) ->
    Reqs = [req_get("/hello"), post("/echo", <<"keep me">>), req_get("/missing"),
            post("/echo", <<>>), req_get("/hello", close())],
    Rs = same(Ctx, fun(Port) ->
                           {ok, C} = gen_tcp:connect({127, 0, 0, 1}, Port,
                                                     [binary, {active, false}]),
                           Out = sequential(C, Reqs, <<>>),
                           Tail = gs_stack_lib:read_all(C, []),
                           ok = gen_tcp:close(C),
                           [gs_stack_lib:normalise(R) || R <- Out] ++ [Tail]
                   end),
    ?assertEqual([<<"HTTP/1.1 200 OK">>, <<"HTTP/1.1 200 OK">>,
                  <<"HTTP/1.1 404 Not Found">>, <<"HTTP/1.1 200 OK">>,
                  <<"HTTP/1.1 200 OK">>], [status(R) || R <- lists:droplast(Rs)]),
    ?assertEqual([<<"hello">>, <<"keep me">>, <<>>, <<>>, <<"hello">>],
                 [body(R) || R <- lists:droplast(Rs)]),
    ?assertEqual(<<>>, lists:last(Rs)).

sequential(_C, [], _Buf) -> [];
sequential(C, [Req | Reqs], Buf) ->
    ok = gen_tcp:send(C, Req),
    {R, Rest} = gs_stack_lib:read_response(C, Buf),
    [R | sequential(C, Reqs, Rest)].

%% All requests in one send; the stream is read until the server closes.
pipelined(Ctx) ->
    Reqs = [req_get("/hello"), post("/echo", <<"one">>), req_get("/missing"),
            post("/echo", binary:copy(<<"x">>, 100000)), req_get("/hello"),
            post("/echo", <<"last">>, close())],
    R = same(Ctx, fun(Port) ->
                          gs_stack_lib:normalise(gs_stack_lib:http_exchange(Port, Reqs))
                  end),
    ?assertEqual([<<"200 OK">>, <<"200 OK">>, <<"404 Not Found">>, <<"200 OK">>,
                  <<"200 OK">>, <<"200 OK">>], statuses(R)),
    ?assertNotEqual(nomatch, binary:match(R, <<"\r\n\r\nlast">>)).

big_up(Ctx) ->
    Body = crypto:strong_rand_bytes(?BIG),
    R = same(Ctx, fun(Port) ->
                          gs_stack_lib:normalise(
                            gs_stack_lib:http_exchange(Port, post("/echo", Body, close())))
                  end),
    ?assertEqual(<<"HTTP/1.1 200 OK">>, status(R)),
    ?assert(body(R) =:= Body).

big_down(#{big := Big} = Ctx) ->
    R = same(Ctx, fun(Port) ->
                          gs_stack_lib:normalise(
                            gs_stack_lib:http_exchange(Port, req_get("/big", close())))
                  end),
    ?assertEqual(<<"HTTP/1.1 200 OK">>, status(R)),
    ?assert(body(R) =:= Big).

%% The PROXY line and the request arrive together: ranch reads both,
%% parses the header and puts the request back (unrecv).
proxy_header(Ctx) ->
    Req = ["PROXY TCP4 192.0.2.1 198.51.100.2 1234 80\r\n", req_get("/proxy", close())],
    R = same(Ctx, fun(Port) ->
                          gs_stack_lib:normalise(gs_stack_lib:http_exchange(Port, Req))
                  end, true),
    ?assertEqual(<<"HTTP/1.1 200 OK">>, status(R)),
    ?assertNotEqual(nomatch, binary:match(body(R), <<"{192,0,2,1} 1234 {198,51,100,2} 80">>)),
    %% a malformed header: the connection is closed without a response
    Bad = ["PROXY NONSENSE\r\n", req_get("/proxy", close())],
    ?assertEqual(<<>>, same(Ctx, fun(Port) -> gs_stack_lib:http_exchange(Port, Bad) end, true)).

%% 200 clients at once, each 20 requests on its own keep-alive
%% connection (echoing a body of its own): every answer right, on both.
concurrent(Ctx) ->
    [?assertEqual({200, 0}, run_clients(port(Ctx, T, false), 200, 20)) || T <- ?TRANSPORTS].

run_clients(Port, N, Reqs) ->
    Self = self(),
    Pids = [spawn_link(fun() -> Self ! {client, self(), client(Port, I, Reqs)} end)
            || I <- lists:seq(1, N)],
    Results = [receive {client, P, R} -> R after 60000 -> timeout end || P <- Pids],
    {length([ok || ok <- Results]), length([R || R <- Results, R =/= ok])}.

client(Port, I, Reqs) ->
    {ok, C} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    Bodies = [list_to_binary(io_lib:format("client ~b request ~b ~s", [I, J, lists:duplicate(J * 97, $x)]))
              || J <- lists:seq(1, Reqs)],
    Got = lists:foldl(fun(Body, {Acc, Buf}) ->
                              ok = gen_tcp:send(C, post("/echo", Body)),
                              {R, Rest} = gs_stack_lib:read_response(C, Buf),
                              {[body(R) | Acc], Rest}
                      end, {[], <<>>}, Bodies),
    ok = gen_tcp:close(C),
    case lists:reverse(element(1, Got)) of
        Bodies -> ok;
        Other -> {wrong, I, length(Other)}
    end.

%% ranch:suspend_listener/1 closes the listen socket (acceptors and
%% all), resume_listener/1 listens again; connections already accepted
%% go on being served throughout.
suspend_resume(_Ctx) ->
    [Tcp, Gs] = [gs_test_lib:run(T, fun suspend_scenario/1) || T <- ?TRANSPORTS],
    ?assertEqual([], [{K, A, B} || {{K, A}, {K, B}} <- lists:zip(Tcp, Gs), A =/= B]),
    ?assertEqual(Tcp, Gs),
    ?assertEqual({ok, <<"hello">>}, proplists:get_value(after_resume, Tcp)).

suspend_scenario(T) ->
    Ref = {?MODULE, suspend, T},
    Routes = cowboy_router:compile([{'_', [{"/hello", ?MODULE, hello}]}]),
    {ok, _} = ranch:start_listener(Ref, T, #{socket_opts => [{ip, {127, 0, 0, 1}}, {port, 0}]},
                                   cowboy_clear, #{env => #{dispatch => Routes}}),
    Port = ranch:get_port(Ref),
    {ok, Kept} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    Before = hello(Kept),
    Suspend = ranch:suspend_listener(Ref),
    Status = ranch:get_status(Ref),
    %% (no connect to the old port here: the listen socket closes when
    %% its owner's exit reaches it, after suspend_listener returns, and a
    %% connect in between is refused or reset, on ranch_tcp too)
    PortWhileSuspended = ranch:get_port(Ref),
    WhileSuspended = hello(Kept),
    Resume = ranch:resume_listener(Ref),
    Status2 = ranch:get_status(Ref),
    {ok, New} = gen_tcp:connect({127, 0, 0, 1}, ranch:get_port(Ref), [binary, {active, false}]),
    AfterResume = hello(New),
    Stop = ranch:stop_listener(Ref),
    KeptAfterStop = gen_tcp:recv(Kept, 0, 5000),
    [{before, Before}, {suspend, Suspend}, {status, Status}, {port, PortWhileSuspended},
     {while_suspended, WhileSuspended}, {resume, Resume}, {status2, Status2},
     {after_resume, AfterResume}, {stop, Stop}, {kept_after_stop, KeptAfterStop}].

hello(C) ->
    ok = gen_tcp:send(C, req_get("/hello")),
    {R, <<>>} = gs_stack_lib:read_response(C, <<>>),
    {status(R) =:= <<"HTTP/1.1 200 OK">> andalso ok, body(R)}.

%% cowboy_clear takes HTTP/2 with prior knowledge: cowboy_http2 on the
%% transport ({active, N}, flow control, many streams on one socket).
%% The client is cowlib's frame and HPACK codec on gen_tcp.
http2(#{big := Big} = Ctx) ->
    Echo = crypto:strong_rand_bytes(50000),
    Reqs = [{<<"GET">>, <<"/hello">>, <<>>}, {<<"POST">>, <<"/echo">>, Echo},
            {<<"GET">>, <<"/missing">>, <<>>}, {<<"GET">>, <<"/big">>, <<>>}],
    R = same(Ctx, fun(Port) -> h2_exchange(Port, Reqs) end),
    ?assertEqual([<<"200">>, <<"200">>, <<"404">>, <<"200">>],
                 [proplists:get_value(<<":status">>, H) || {_, H, _} <- R]),
    [{1, _, Hello}, {3, _, Echoed}, {5, _, _}, {7, _, BigGot}] = R,
    ?assertEqual(<<"hello">>, Hello),
    ?assert(Echoed =:= Echo),
    ?assert(BigGot =:= Big).

%% Sends the requests on streams 1, 3, 5, ... of one connection and
%% reads until every stream has ended: [{StreamID, Headers, Body}]
%% (headers without date), with WINDOW_UPDATEs for what arrives.
h2_exchange(Port, Reqs) ->
    {ok, C} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    {Frames, _} = lists:foldl(
                    fun({{M, Path, Body}, Id}, {Acc, HP}) ->
                            Hs = [{<<":method">>, M}, {<<":scheme">>, <<"http">>},
                                  {<<":authority">>, <<"localhost">>}, {<<":path">>, Path}]
                                ++ [{<<"content-length">>, integer_to_binary(byte_size(Body))}
                                    || Body =/= <<>>],
                            {Block, HP2} = cow_hpack:encode(Hs, HP),
                            Fin = case Body of <<>> -> fin; _ -> nofin end,
                            F = [cow_http2:headers(Id, Fin, Block) | h2_data(Id, Body)],
                            {[Acc, F], HP2}
                    end, {[], cow_hpack:init()},
                    lists:zip(Reqs, lists:seq(1, 2 * length(Reqs), 2))),
    ok = gen_tcp:send(C, ["PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                          cow_http2:settings(#{}), Frames]),
    Streams = h2_read(C, <<>>, cow_hpack:init(), #{}, length(Reqs)),
    ok = gen_tcp:close(C),
    [{Id, [H || {K, _} = H <- Hs, K =/= <<"date">>], iolist_to_binary(B)}
     || {Id, {Hs, B, fin}} <- lists:sort(maps:to_list(Streams))].

%% DATA frames of at most 16 KiB (the default SETTINGS_MAX_FRAME_SIZE).
h2_data(_Id, <<>>) -> [];
h2_data(Id, <<D:16384/binary, Rest/binary>>) when Rest =/= <<>> ->
    [cow_http2:data(Id, nofin, D) | h2_data(Id, Rest)];
h2_data(Id, D) -> [cow_http2:data(Id, fin, D)].

h2_read(_C, _Buf, _HP, Streams, 0) ->
    Streams;
h2_read(C, Buf, HP, Streams, Open) ->
    case cow_http2:parse(Buf) of
        {ok, Frame, Rest} ->
            {HP2, Streams2, Ended} = h2_frame(C, Frame, HP, Streams),
            h2_read(C, Rest, HP2, Streams2, Open - Ended);
        {ignore, Rest} ->
            h2_read(C, Rest, HP, Streams, Open);
        more ->
            {ok, D} = gen_tcp:recv(C, 0, 30000),
            h2_read(C, <<Buf/binary, D/binary>>, HP, Streams, Open);
        Error ->
            erlang:error({h2, Error})
    end.

h2_frame(C, {settings, _}, HP, Streams) ->
    ok = gen_tcp:send(C, cow_http2:settings_ack()),
    {HP, Streams, 0};
h2_frame(_C, {headers, Id, Fin, head_fin, Block}, HP, Streams) ->
    {Hs, HP2} = cow_hpack:decode(Block, HP),
    {HP2, Streams#{Id => {Hs, [], Fin}}, ended(Fin)};
h2_frame(C, {data, Id, Fin, D}, HP, Streams) ->
    [ok = gen_tcp:send(C, [cow_http2:window_update(byte_size(D)),
                           cow_http2:window_update(Id, byte_size(D))])
     || byte_size(D) > 0, Fin =:= nofin],
    #{Id := {Hs, Acc, nofin}} = Streams,
    {HP, Streams#{Id => {Hs, [Acc, D], Fin}}, ended(Fin)};
h2_frame(_C, Frame, HP, Streams) when element(1, Frame) =:= window_update;
                                      Frame =:= settings_ack ->
    {HP, Streams, 0};
h2_frame(_C, Frame, _HP, _Streams) ->
    erlang:error({unexpected_h2_frame, Frame}).

ended(fin) -> 1;
ended(nofin) -> 0.

%% cowboy_static answers with a sendfile body: Transport:sendfile/4.
static_files(#{file := File} = Ctx) ->
    Reqs = [req_get("/static/small.txt"),
            req_get("/static/file.bin", [{"range", "bytes=100-1000099"}]),
            req_get("/static/file.bin", close())],
    R = same(Ctx, fun(Port) ->
                          gs_stack_lib:normalise(gs_stack_lib:http_exchange(Port, Reqs))
                  end),
    ?assertEqual([<<"200 OK">>, <<"206 Partial Content">>, <<"200 OK">>], statuses(R)),
    ?assertNotEqual(nomatch, binary:match(R, <<"\r\n\r\nsmall file\n">>)),
    ?assertNotEqual(nomatch, binary:match(R, binary:part(File, 100, 1000000))),
    ?assert(binary:part(R, byte_size(R) - ?FILE_SIZE, ?FILE_SIZE) =:= File),
    %% and over HTTP/2 (cowboy_http2 sends the file with sendfile too)
    H2 = same(Ctx, fun(Port) ->
                           h2_exchange(Port, [{<<"GET">>, <<"/static/file.bin">>, <<>>}])
                   end),
    [{1, H2Headers, H2Body}] = H2,
    ?assertEqual(<<"200">>, proplists:get_value(<<":status">>, H2Headers)),
    ?assert(H2Body =:= File).

%%% ---- the transport callbacks, side by side ------------------------------------

transport_side_by_side(_Ctx) ->
    [Tcp, Gs] = [gs_test_lib:run(T, fun transport_scenario/1) || T <- ?TRANSPORTS],
    ?assertEqual([], [{K, A, B} || {{K, A}, {K, B}} <- lists:zip(Tcp, Gs), A =/= B]),
    ?assertEqual(Tcp, Gs).

transport_scenario(T) ->
    {ok, L} = T:listen(#{socket_opts => [{ip, {127, 0, 0, 1}}, {port, 0},
                                         {packet, 2}, list, {send_timeout, 5000}],
                         logger => ?MODULE}),
    Warnings = gs_test_lib:flush(),
    LOpts = T:getopts(L, [active, mode, packet, reuseaddr, nodelay, send_timeout,
                          send_timeout_close, buffer]),
    {ok, {LIP, Port}} = T:sockname(L),
    {ok, C} = T:connect({127, 0, 0, 1}, Port, [{nodelay, true}]),
    {ok, S0} = T:accept(L, 5000),
    HS2 = T:handshake(S0, 1000),
    HS3 = T:handshake(S0, [], 1000),
    {ok, S} = HS2,
    HC = (catch T:handshake_continue(S, 1000)),
    HX = (catch T:handshake_cancel(S)),
    COpts = T:getopts(C, [active, mode, nodelay]),
    Send = T:send(C, [<<"hel">>, "lo"]),
    Recv = T:recv(S, 5, 1000),
    Timeout = T:recv(S, 0, 10),
    SetA = T:setopts(S, [{active, once}]),
    ok = T:send(C, <<"world">>),
    Active = receive {tcp, S, D} -> D after 5000 -> timeout end,
    {ok, Stats} = T:getstat(S),
    {ok, Stats2} = T:getstat(S, [recv_oct, send_oct]),
    {ok, {PIP, _}} = T:peername(S),
    {ok, {SIP, SPort}} = T:sockname(S),
    Self = self(),
    New = spawn(fun() -> receive go -> Self ! {new, T:recv(S, 3, 5000)} end end),
    CP = T:controlling_process(S, New),
    ok = T:send(C, <<"abc">>),
    New ! go,
    NewGot = receive {new, G} -> G end,
    Shut = T:shutdown(C, write),
    EOF = T:recv(S, 0, 5000),
    Refused = T:connect({127, 0, 0, 1}, free_port(), [], 5000),
    InUse = T:listen(#{socket_opts => [{ip, {127, 0, 0, 1}}, {port, Port}]}),
    ok = T:close(C),
    ok = T:close(S),
    ok = T:close(L),
    Closed = T:accept(L, 100),
    [{name, T:name()}, {secure, T:secure()}, {messages, T:messages()},
     {warnings, Warnings}, {listen_opts, LOpts}, {listen_ip, LIP},
     {handshake2, HS2 =:= {ok, S0}}, {handshake3, HS3 =:= {ok, S0}},
     {handshake_continue, gs_test_lib:norm(HC)}, {handshake_cancel, gs_test_lib:norm(HX)},
     {client_opts, COpts}, {send, Send}, {recv, Recv}, {recv_timeout, Timeout},
     {setopts, SetA}, {active, Active},
     {getstat_keys, lists:sort([K || {K, _} <- Stats])}, {getstat2, Stats2},
     {peer_ip, PIP}, {sock, {SIP, SPort =:= Port}}, {controlling_process, CP},
     {new_owner_recv, NewGot}, {shutdown, Shut}, {eof, EOF},
     {refused, Refused}, {in_use, InUse}, {closed, Closed},
     {format_error, T:format_error(eaddrinuse)},
     {cleanup, T:cleanup(#{socket_opts => [{port, 0}]})},
     {disallowed, T:disallowed_listen_options()}].

free_port() ->
    {ok, L} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(L),
    ok = gen_tcp:close(L),
    Port.

%% sendfile/2 (file name), sendfile/4 (raw file, offset, bytes) and
%% sendfile/5 (chunk size) onto the accepted socket, read by a gen_tcp
%% client; the raw file's position is kept.
transport_sendfile(#{dir := Dir, file := File}) ->
    Path = Dir ++ "/file.bin",
    [Tcp, Gs] = [gs_test_lib:run(T, fun(Tr) -> sendfile_scenario(Tr, Path) end)
                 || T <- ?TRANSPORTS],
    ?assertEqual(summary(Tcp), summary(Gs)),
    ?assertEqual({ok, ?FILE_SIZE}, proplists:get_value(whole, Tcp)),
    ?assert(proplists:get_value(received, Tcp)
            =:= iolist_to_binary([File, binary:part(File, 1000, 3000000),
                                  binary:part(File, 5, 100000),
                                  binary:part(File, 4000000, ?FILE_SIZE - 4000000)])).

sendfile_scenario(T, Path) ->
    {ok, L} = T:listen(#{socket_opts => [{ip, {127, 0, 0, 1}}, {port, 0}]}),
    {ok, {_, Port}} = T:sockname(L),
    {ok, C} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    {ok, S} = T:accept(L, 5000),
    Reader = self(),
    Ref = make_ref(),
    spawn_link(fun() -> Reader ! {Ref, gs_stack_lib:read_all(C, [])} end),
    Whole = T:sendfile(S, Path),
    {ok, Raw} = file:open(Path, [read, raw, binary]),
    {ok, 17} = file:position(Raw, 17),
    Part = T:sendfile(S, Raw, 1000, 3000000),
    Chunked = T:sendfile(S, Raw, 5, 100000, [{chunk_size, 4096}]),
    ToEnd = T:sendfile(S, Raw, 4000000, 0),
    Pos = file:position(Raw, cur),
    ok = file:close(Raw),
    Missing = T:sendfile(S, Path ++ ".missing"),
    ok = T:close(S),
    ok = T:close(L),
    Received = receive {Ref, R} -> R after 30000 -> timeout end,
    [{whole, Whole}, {part, Part}, {chunked, Chunked}, {to_end, ToEnd},
     {position_kept, Pos}, {missing, Missing}, {received, Received}].
