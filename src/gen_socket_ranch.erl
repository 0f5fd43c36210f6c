%% @doc A ranch (2.x) transport on gen_socket: name it where ranch_tcp
%% would go, e.g.
%%
%%   cowboy:start_clear(http, #{socket_opts => [{port, 8080}]}, Opts)
%%     becomes
%%   ranch:start_listener(http, gen_socket_ranch, #{socket_opts => [{port, 8080}]},
%%                        cowboy_clear, Opts)
%%
%% Every callback of ranch 2.2's ranch_transport behaviour, with
%% ranch_tcp's semantics: the same listen defaults and option filter
%% (through ranch's own exported helpers), handshake a no-op that gives
%% the socket back, sendfile through file:sendfile/5 onto the socket,
%% recv_proxy_header through ranch_proxy_header.  The messages are
%% gen_tcp's (tcp, tcp_closed, tcp_error, tcp_passive), and name/0 is
%% `tcp': it is a plain TCP transport (cowboy asks name() only to tell
%% TLS apart).
%%
%% ranch is not a build dependency of gen_socket: the module calls it
%% at run time only, and does not declare -behaviour(ranch_transport)
%% (erlc would warn about an unknown behaviour without ranch in its
%% path); the test suite checks that every callback is exported.
%%
%% ranch 2 passes its transport options as a map, which R16 cannot
%% compile: before OTP 21 (no OTP_RELEASE macro) this module is empty.
-module(gen_socket_ranch).

-ifdef(OTP_RELEASE).

-export([name/0, secure/0, messages/0, listen/1, disallowed_listen_options/0,
         accept/2, handshake/2, handshake/3,
         handshake_continue/2, handshake_continue/3, handshake_cancel/1,
         connect/3, connect/4, recv/3, recv_proxy_header/2, send/2,
         sendfile/2, sendfile/4, sendfile/5, setopts/2, getopts/2,
         getstat/1, getstat/2, controlling_process/2, peername/1, sockname/1,
         shutdown/2, close/1, cleanup/1, format_error/1]).

-type socket() :: gen_socket:socket().
-type sendfile_opts() :: [{chunk_size, non_neg_integer()}].
-type address() :: {inet:ip_address(), inet:port_number()} | {local, binary()}.

-spec name() -> tcp.
name() ->
    tcp.

-spec secure() -> false.
secure() ->
    false.

-spec messages() -> {tcp, tcp_closed, tcp_error, tcp_passive}.
messages() ->
    {tcp, tcp_closed, tcp_error, tcp_passive}.

%% The listen port is in the options ({port, N}); ranch's defaults
%% (backlog 1024, nodelay, send_timeout 30 s with close) unless given,
%% the options ranch reserves for itself dropped with a warning, and
%% binary, passive, reuseaddr always.
-spec listen(map()) -> {ok, socket()} | {error, atom()}.
listen(TransOpts) ->
    ok = cleanup(TransOpts),
    Logger = maps:get(logger, TransOpts, logger),
    SocketOpts = maps:get(socket_opts, TransOpts, []),
    gen_socket:listen(0, listen_options(SocketOpts, Logger)).

%% {inet_backend, _} has to stay the first option.
listen_options([{inet_backend, _} = Backend | Opts], Logger) ->
    [Backend | listen_options(Opts, Logger)];
listen_options(Opts, Logger) ->
    Defaults = [{backlog, 1024}, {nodelay, true}, {send_timeout, 30000},
                {send_timeout_close, true}],
    WithDefaults = lists:foldl(fun({K, V}, Acc) ->
                                       ranch:set_option_default(Acc, K, V)
                               end, Opts, Defaults),
    ranch:filter_options(WithDefaults, disallowed_listen_options(),
                         [binary, {active, false}, {reuseaddr, true}], Logger).

%% Options ranch sets itself ('binary' and 'list' have no 2-tuple form
%% and are filtered as unknown).
-spec disallowed_listen_options() -> [atom()].
disallowed_listen_options() ->
    [active, header, mode, packet, packet_size, line_delimiter, reuseaddr].

-spec accept(socket(), timeout()) -> {ok, socket()} | {error, atom()}.
accept(LSocket, Timeout) ->
    gen_socket:accept(LSocket, Timeout).

%% Plain TCP has no handshake: the socket is ready as accepted.
-spec handshake(socket(), timeout()) -> {ok, socket()}.
handshake(Socket, Timeout) ->
    handshake(Socket, [], Timeout).

-spec handshake(socket(), list(), timeout()) -> {ok, socket()}.
handshake(Socket, _Opts, _Timeout) ->
    {ok, Socket}.

-spec handshake_continue(socket(), timeout()) -> no_return().
handshake_continue(Socket, Timeout) ->
    handshake_continue(Socket, [], Timeout).

-spec handshake_continue(socket(), list(), timeout()) -> no_return().
handshake_continue(_Socket, _Opts, _Timeout) ->
    erlang:error(not_supported).

-spec handshake_cancel(socket()) -> no_return().
handshake_cancel(_Socket) ->
    erlang:error(not_supported).

-spec connect(inet:ip_address() | inet:hostname(), inet:port_number(), list()) ->
                     {ok, socket()} | {error, atom()}.
connect(Host, Port, Opts) when is_integer(Port) ->
    gen_socket:connect(Host, Port, Opts ++ [binary, {active, false}]).

-spec connect(inet:ip_address() | inet:hostname(), inet:port_number(), list(),
              timeout()) -> {ok, socket()} | {error, atom()}.
connect(Host, Port, Opts, Timeout) when is_integer(Port) ->
    gen_socket:connect(Host, Port, Opts ++ [binary, {active, false}], Timeout).

-spec recv(socket(), non_neg_integer(), timeout()) -> {ok, any()} | {error, atom()}.
recv(Socket, Length, Timeout) ->
    gen_socket:recv(Socket, Length, Timeout).

%% A PROXY protocol header (v1 or v2) at the start of the connection;
%% what came with it beyond the header goes back into the socket.
-spec recv_proxy_header(socket(), timeout()) ->
                               {ok, tuple() | map()} | {error, atom()} |
                               {error, protocol_error, atom()}.
recv_proxy_header(Socket, Timeout) ->
    case recv(Socket, 0, Timeout) of
        {ok, Data} ->
            case ranch_proxy_header:parse(Data) of
                {ok, Info, <<>>} ->
                    {ok, Info};
                {ok, Info, Rest} ->
                    case gen_socket:unrecv(Socket, Rest) of
                        ok -> {ok, Info};
                        Error -> Error
                    end;
                {error, Why} ->
                    {error, protocol_error, Why}
            end;
        Error ->
            Error
    end.

-spec send(socket(), iodata()) -> ok | {error, atom()}.
send(Socket, Data) ->
    gen_socket:send(Socket, Data).

%% The whole file.
-spec sendfile(socket(), file:name_all() | file:fd()) ->
                      {ok, non_neg_integer()} | {error, atom()}.
sendfile(Socket, File) ->
    sendfile(Socket, File, 0, 0, []).

-spec sendfile(socket(), file:name_all() | file:fd(), non_neg_integer(),
               non_neg_integer()) -> {ok, non_neg_integer()} | {error, atom()}.
sendfile(Socket, File, Offset, Bytes) ->
    sendfile(Socket, File, Offset, Bytes, []).

%% Bytes = 0: to the end of the file.  A file name is opened raw for
%% the call; a raw file handle is used as it is, its position kept
%% (file:sendfile/5 semantics).  The chunk size defaults to ranch_tcp's.
-spec sendfile(socket(), file:name_all() | file:fd(), non_neg_integer(),
               non_neg_integer(), sendfile_opts()) ->
                      {ok, non_neg_integer()} | {error, atom()}.
sendfile(Socket, Name, Offset, Bytes, Opts)
  when is_list(Name); is_atom(Name); is_binary(Name) ->
    case file:open(Name, [read, raw, binary]) of
        {ok, Raw} ->
            try
                sendfile(Socket, Raw, Offset, Bytes, Opts)
            after
                ok = file:close(Raw)
            end;
        {error, _} = Error ->
            Error
    end;
sendfile(Socket, Raw, Offset, Bytes, Opts) ->
    ChunkOpts = case Opts of
                    [] -> [{chunk_size, 16#1FFF}];
                    _ -> Opts
                end,
    try
        file:sendfile(Raw, Socket, Offset, Bytes, ChunkOpts)
    catch
        %% prim_file's sendfile fails with a badmatch on an unconnected
        %% socket; ranch_tcp answers closed.
        error:{badmatch, {error, enotconn}} -> {error, closed}
    end.

-spec setopts(socket(), list()) -> ok | {error, atom()}.
setopts(Socket, Opts) ->
    gen_socket:setopts(Socket, Opts).

-spec getopts(socket(), [atom()]) -> {ok, list()} | {error, atom()}.
getopts(Socket, Opts) ->
    gen_socket:getopts(Socket, Opts).

-spec getstat(socket()) -> {ok, [{atom(), integer()}]} | {error, atom()}.
getstat(Socket) ->
    gen_socket:getstat(Socket).

-spec getstat(socket(), [atom()]) -> {ok, [{atom(), integer()}]} | {error, atom()}.
getstat(Socket, Stats) ->
    gen_socket:getstat(Socket, Stats).

-spec controlling_process(socket(), pid()) -> ok | {error, atom()}.
controlling_process(Socket, Pid) ->
    gen_socket:controlling_process(Socket, Pid).

-spec peername(socket()) -> {ok, address()} | {error, atom()}.
peername(Socket) ->
    gen_socket:peername(Socket).

-spec sockname(socket()) -> {ok, address()} | {error, atom()}.
sockname(Socket) ->
    gen_socket:sockname(Socket).

-spec shutdown(socket(), read | write | read_write) -> ok | {error, atom()}.
shutdown(Socket, How) ->
    gen_socket:shutdown(Socket, How).

-spec close(socket()) -> ok.
close(Socket) ->
    gen_socket:close(Socket).

%% A unix socket file left by an earlier listener on the same path is
%% removed before listening (and when ranch stops the listener).
-spec cleanup(map()) -> ok.
cleanup(#{socket_opts := SocketOpts}) ->
    case lists:keyfind(ip, 1, lists:reverse(SocketOpts)) of
        {ip, {local, Path}} ->
            _ = file:delete(Path),
            ok;
        _ ->
            ok
    end;
cleanup(_) ->
    ok.

-spec format_error(term()) -> string().
format_error(Reason) ->
    inet:format_error(Reason).

-endif.
