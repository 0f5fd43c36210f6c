%% The cowboy "hello" server of the wrk benchmark (cowboy.escript), one
%% OS process per run:
%%   erl ... -run gs_cowboy_bench main ranch_tcp|gen_socket_ranch
%% starts cowboy on a loopback port with that ranch transport, prints
%% "READY <port>", and halts when its stdin closes.  Also the handler.
-module(gs_cowboy_bench).

-export([main/1, init/2]).

main([Transport]) ->
    {ok, _} = application:ensure_all_started(gen_socket),
    {ok, _} = application:ensure_all_started(cowboy),
    Routes = cowboy_router:compile([{'_', [{"/hello", ?MODULE, []}]}]),
    T = list_to_atom(Transport),
    %% what cowboy:start_clear/3 gives ranch_tcp, for either transport
    {ok, _} = ranch:start_listener(
                hello, T,
                #{socket_opts => [{ip, {127, 0, 0, 1}}, {port, 0}, {buffer, 512}],
                  connection_type => supervisor},
                cowboy_clear,
                #{env => #{dispatch => Routes}, connection_type => supervisor,
                  dynamic_buffer => {512, 131072}}),
    io:format("READY ~b~n", [ranch:get_port(hello)]),
    _ = io:get_line(""),
    halt(0).

init(Req, State) ->
    {ok, cowboy_req:reply(200, #{<<"content-type">> => <<"text/plain">>},
                          <<"Hello world!">>, Req), State}.
