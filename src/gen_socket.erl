%% @doc gen_socket: the gen_tcp API on per-scheduler libev pollsets.
%%
%% A socket is a port of gen_socket_drv whose port data is `gen_socket',
%% so gen_tcp:send/recv/accept/shutdown dispatch here, and inet:setopts/
%% getopts/peername/sockname/getstat, gen_tcp:close/1 and
%% gen_tcp:controlling_process/2 work on it unchanged (the driver speaks
%% inet_drv's control protocol).  The one deliberate difference from
%% gen_tcp: the default options are `binary' and `{active, false}'.
-module(gen_socket).

-export([listen/2, accept/1, accept/2, connect/3, connect/4,
         send/2, recv/2, recv/3, unrecv/2, close/1, shutdown/2,
         sendfile/2, sendfile/5,
         controlling_process/2, setopts/2, getopts/2,
         peername/1, sockname/1, port/1, getstat/1, getstat/2,
         socket_info/2, info/0]).

-include("gen_socket_int.hrl").

-type socket() :: port().
-type timeout_ms() :: non_neg_integer() | infinity.
-type option() :: gen_tcp:option() | inet | inet6.
%% What recv gives: bytes, or with {packet, http*} / ssl_tls the parsed
%% term (erlang:decode_packet/3's http_packet(), {ssl_tls, S, ...}).
-type packet() :: iodata() | tuple() | http_eoh.
-export_type([socket/0]).

%%% ---- listen / accept -------------------------------------------------

-spec listen(inet:port_number(), [gen_tcp:listen_option() | option()]) ->
                    {ok, socket()} | {error, atom()}.
listen(Port, Opts) when is_integer(Port), Port >= 0, Port =< 65535,
                        is_list(Opts) ->
    case gen_socket_opts:listen(Opts) of
        {ok, {_, _, _, Backlog, _, _}} when not is_integer(Backlog) ->
            erlang:error(function_clause);      % as gen_tcp (prim_inet:listen/2)
        {ok, {local, _, _, _, _, _}} when Port =/= 0 ->
            erlang:error(function_clause);      % as gen_tcp (local_tcp)
        {ok, {local, undefined, _, _, -1, _}} ->
            {error, einval};                    % a local socket needs a name
        {ok, {Family, IfAddr, OptPort, Backlog, Fd, SockOpts}} ->
            BindPort = case Port of 0 -> OptPort; _ -> Port end,
            Addr = listen_addr(IfAddr, BindPort, Family, Fd),
            with_open(Family, Fd, SockOpts,
                      fun(S) ->
                              bind_listen(S, Addr, BindPort, Backlog)
                      end);
        {error, badarg} ->
            exit(badarg)
    end;
listen(_, Opts) when is_list(Opts) ->
    exit(badarg).

%% An adopted fd is bound already unless an address or port is given.
listen_addr(undefined, 0, _Family, Fd) when Fd >= 0 -> none;
listen_addr(undefined, _, Family, _) -> any_addr(Family);
listen_addr(IfAddr, _, _, _) -> IfAddr.

bind_listen(S, Addr, Port, Backlog) ->
    case bind(S, Addr, Port) of
        ok -> status(ctl(S, ?GS_REQ_LISTEN, <<Backlog:32>>));
        Error -> Error
    end.

-spec accept(socket()) -> {ok, socket()} | {error, atom()}.
accept(L) ->
    accept(L, infinity).

-spec accept(socket(), timeout_ms()) -> {ok, socket()} | {error, atom()}.
accept(L, Timeout0) when is_port(L), (Timeout0 =:= infinity orelse
                                      is_integer(Timeout0)) ->
    Timeout = case Timeout0 of        % as prim_inet: < 0 waits for ever
                  T when is_integer(T), T < 0 -> infinity;
                  T -> T
              end,
    case catch ctl(L, ?GS_REQ_ACCEPT, <<(scheduler_id()):32>>) of
        <<?GS_REP_SENT>> -> accepted(receive {?GS_TAG, L, R} -> R end);
        <<?GS_REP_WAIT>> -> accepted(await(L, Timeout));
        <<?GS_REP_ERROR, E/binary>> -> {error, binary_to_atom(E, latin1)};
        {'EXIT', _} -> {error, closed}
    end.

accepted({ok, S, Pollset, Bind}) ->
    inet_db:register_socket(S, ?MODULE),
    case catch ctl(S, ?GS_REQ_ATTACH, <<>>) of
        <<?GS_REP_OK>> ->
            bind_process(Bind, Pollset);
        _ ->
            %% Its pollset went away since the accept (application stop,
            %% poller killed): S answers as closed from now on, as if the
            %% pollset had died a moment after this call.
            ok
    end,
    {ok, S};
accepted(Error) ->
    Error.

%%% ---- connect -----------------------------------------------------------

-spec connect(inet:hostname() | inet:ip_address(), inet:port_number(),
              [gen_tcp:connect_option() | option()]) ->
                     {ok, socket()} | {error, atom()}.
connect(Host, Port, Opts) ->
    connect(Host, Port, Opts, infinity).

-spec connect(inet:hostname() | inet:ip_address(), inet:port_number(),
              [gen_tcp:connect_option() | option()], timeout_ms()) ->
                     {ok, socket()} | {error, atom()}.
connect(Host, Port, Opts, Timeout)
  when is_integer(Port), Port >= 0, Port =< 65535, is_list(Opts) ->
    check_timeout(Timeout),
    case gen_socket_opts:connect(Opts) of
        {ok, {Family0, IfAddr, BindPort, _, Fd, SockOpts}} ->
            Family = host_family(Host, Family0),
            [erlang:error(function_clause)      % as gen_tcp (local_tcp)
             || Family =:= local, Port =/= 0],
            Result =
                case addresses(Host, Family) of
                    {ok, IPs} ->
                        Deadline = deadline(Timeout),
                        try_connect(IPs, Port, {Family, Fd}, IfAddr, BindPort,
                                    SockOpts, Deadline, {error, einval});
                    Error ->
                        Error
                end,
            case Result of
                %% as gen_tcp:connect/4: an option the socket refuses, an
                %% address that is no address, is badarg
                {error, einval} -> exit(badarg);
                _ -> Result
            end;
        {error, badarg} ->
            exit(badarg)
    end;
connect(_, _, Opts, _) when is_list(Opts) ->
    exit(badarg).

try_connect([], _, _, _, _, _, _, LastError) ->
    LastError;
try_connect([IP | IPs], Port, {Family, Fd} = FamFd, IfAddr, BindPort, Opts,
            Deadline, _) ->
    Result = with_open(Family, Fd, Opts,
                       fun(S) ->
                               connect_one(S, IP, Port, IfAddr, BindPort,
                                           Deadline)
                       end),
    case Result of
        {ok, _} = Ok -> Ok;
        {error, timeout} = Timeout -> Timeout;
        {error, einval} = Einval -> Einval;
        Error when Fd >= 0 -> Error;    % the adopted fd went with the attempt
        Error -> try_connect(IPs, Port, FamFd, IfAddr, BindPort, Opts,
                             Deadline, Error)
    end.

connect_one(S, IP, Port, IfAddr, BindPort, Deadline) ->
    case maybe_bind(S, IfAddr, BindPort) of
        ok ->
            case ctl(S, ?GS_REQ_CONNECT, [<<Port:16>> | ip_bytes(IP)]) of
                <<?GS_REP_OK>> -> ok;
                <<?GS_REP_WAIT>> -> await(S, remaining(Deadline));
                <<?GS_REP_ERROR, E/binary>> -> {error, binary_to_atom(E, latin1)}
            end;
        Error ->
            Error
    end.

maybe_bind(_S, undefined, 0) -> ok;
maybe_bind(S, undefined, Port) -> bind(S, any_addr(family_of(S)), Port);
maybe_bind(S, IP, Port) -> bind(S, IP, Port).

host_family({_, _, _, _, _, _, _, _}, _) -> inet6;
host_family({local, _}, _) -> local;
host_family(_, Family) -> Family.

addresses({_, _, _, _} = IP, inet) -> valid_ip(IP);
addresses({_, _, _, _, _, _, _, _} = IP, inet6) -> valid_ip(IP);
addresses({local, Path}, local) when is_list(Path); is_binary(Path) ->
    {ok, [{local, gen_socket_opts:local_path(Path)}]};
addresses({local, _}, local) ->
    exit(badarg);
addresses(_, local) ->
    erlang:error(function_clause);      % as gen_tcp (local_tcp)
addresses(Host, Family) when is_list(Host); is_atom(Host) ->
    inet:getaddrs(Host, Family);
addresses(Host, _) when is_tuple(Host) ->
    exit(badarg);
addresses(_, _) ->
    erlang:error(function_clause).      % as gen_tcp (inet:getaddrs_tm/3)

valid_ip(IP) ->
    Max = case tuple_size(IP) of 4 -> 255; 8 -> 65535 end,
    case lists:all(fun(X) -> is_integer(X) andalso X >= 0 andalso X =< Max end,
                   tuple_to_list(IP)) of
        true -> {ok, [IP]};
        false -> exit(badarg)
    end.

%%% ---- data ------------------------------------------------------------------

%% Below this size a send goes through port_control (one copy, a
%% synchronous answer); above, through port_command/outputv, which hands
%% the driver the binaries themselves.
-define(SEND_COPY_LIMIT, 4096).

-spec send(socket(), iodata()) -> ok | {error, atom()}.
send(S, Data) when is_port(S), is_binary(Data) ->
    case byte_size(Data) < ?SEND_COPY_LIMIT of
        true -> send_small(S, Data);
        false -> send_large(S, Data)
    end;
send(S, Data) when is_port(S), is_list(Data) ->
    try iolist_size(Data) of
        N when N < ?SEND_COPY_LIMIT -> send_small(S, Data);
        _ -> send_large(S, Data)
    catch
        error:_ -> {error, einval}
    end;
send(S, _) when is_port(S) ->
    {error, einval}.

%% A socket whose output queue is over high_watermark is busy: the send
%% waits (up to send_timeout) until it drains, then is made again.
send_small(S, Data) ->
    try erlang:port_control(S, ?GS_REQ_SEND, Data) of
        <<?GS_REP_OK>> -> ok;
        <<?GS_REP_WAIT, T:32/signed>> -> resend(await(S, send_timeout(T)), S, Data, fun send_small/2);
        <<?GS_REP_ERROR, E/binary>> -> {error, binary_to_atom(E, latin1)}
    catch
        error:badarg -> closed_or_einval(S)
    end.

send_large(S, Data) ->
    try erlang:port_command(S, Data) of
        true ->
            receive
                {?GS_TAG, S, {wait, T}} ->
                    resend(await(S, send_timeout(T)), S, Data, fun send_large/2);
                {?GS_TAG, S, Reply} -> Reply
            end
    catch
        error:badarg -> closed_or_einval(S)
    end.

resend(ok, S, Data, Send) -> Send(S, Data);
resend(Error, _S, _Data, _Send) -> Error.

send_timeout(-1) -> infinity;
send_timeout(T) -> T.

closed_or_einval(S) ->
    case erlang:port_info(S, name) of
        undefined -> {error, closed};
        _ -> {error, einval}
    end.

-spec recv(socket(), non_neg_integer()) -> {ok, packet()} | {error, atom()}.
recv(S, Len) ->
    recv(S, Len, infinity).

-spec recv(socket(), non_neg_integer(), timeout_ms()) ->
                  {ok, packet()} | {error, atom()}.
recv(S, Len0, Timeout0) when is_port(S), is_integer(Len0), Len0 >= 0,
                             (Timeout0 =:= infinity orelse
                              is_integer(Timeout0)) ->
    %% As prim_inet: a negative timeout waits for ever, the length goes
    %% to the driver as 32 bits (inet_drv reads it as a signed int).
    Timeout = case Timeout0 of
                  T when is_integer(T), T < 0 -> infinity;
                  T -> T
              end,
    Len = case Len0 band 16#ffffffff of
              L when L >= 16#80000000 -> 0;
              L -> L
          end,
    try erlang:port_control(S, ?GS_REQ_RECV, <<Len:32>>) of
        <<?GS_REP_OK, Data/binary>> -> {ok, Data};
        <<?GS_REP_LIST, Data/binary>> -> {ok, binary_to_list(Data)};
        <<?GS_REP_HEADER, H:32, Data/binary>> -> {ok, header(H, Data)};
        <<?GS_REP_WAIT>> -> await(S, Timeout);
        <<?GS_REP_SENT>> -> await(S, infinity);     % a term: already sent
        <<?GS_REP_ERROR, E/binary>> -> {error, binary_to_atom(E, latin1)}
    catch
        error:badarg -> {error, closed}
    end.

%% {header, N}: [B1, ..., BN | Rest] when the packet has N bytes or more.
header(H, Data) when byte_size(Data) < H ->
    binary_to_list(Data);
header(H, Data) ->
    <<Hd:H/binary, Tl/binary>> = Data,
    binary_to_list(Hd) ++ Tl.

%% @doc Puts data back in front of the socket's receive buffer.
-spec unrecv(socket(), iodata()) -> ok | {error, atom()}.
unrecv(S, Data) when is_port(S) ->
    %% a closed port is 'closed', as gen_tcp:unrecv's socket lookup says
    case erlang:port_info(S, name) of
        undefined ->
            {error, closed};
        _ ->
            case prim_inet:unrecv(S, Data) of
                {error, einval} = E -> closed_or(S, E);
                R -> R
            end
    end.

closed_or(S, Error) ->
    case erlang:port_info(S, name) of
        undefined -> {error, closed};
        _ -> Error
    end.

%% @doc file:sendfile/2 onto a gen_socket socket: the driver sends the
%% file with sendfile(2), after what is queued and before later sends.
-spec sendfile(file:name_all(), socket()) ->
                      {ok, non_neg_integer()} | {error, atom()}.
sendfile(Filename, S) ->
    file:sendfile(Filename, S).

%% @doc file:sendfile/5: Bytes from Offset of a raw file (0: to its end).
-spec sendfile(file:fd(), socket(), non_neg_integer(), non_neg_integer(),
               [{chunk_size, non_neg_integer()} | {use_threads, boolean()}]) ->
                      {ok, non_neg_integer()} | {error, atom()}.
sendfile(Fd, S, Offset, Bytes, Opts) ->
    file:sendfile(Fd, S, Offset, Bytes, Opts).

%%% ---- control ---------------------------------------------------------------

-spec close(socket()) -> ok.
close(S) when is_port(S) ->
    inet:tcp_close(S).

-spec shutdown(socket(), read | write | read_write) -> ok | {error, atom()}.
shutdown(S, How) when is_port(S), (How =:= read orelse How =:= write orelse
                                   How =:= read_write) ->
    H = case How of read -> 0; write -> 1; read_write -> 2 end,
    case catch ctl(S, ?GS_REQ_SHUTDOWN, <<H>>) of
        {'EXIT', _} -> {error, closed};
        R -> status(R)
    end.

-spec controlling_process(socket(), pid()) -> ok | {error, atom()}.
controlling_process(S, Pid) ->
    gen_tcp:controlling_process(S, Pid).

-spec setopts(socket(), [gen_tcp:option()]) -> ok | {error, atom()}.
setopts(S, Opts) ->
    inet:setopts(S, Opts).

-spec getopts(socket(), [atom() | tuple()]) ->
                     {ok, [gen_tcp:option()]} | {error, atom()}.
getopts(S, Opts) ->
    inet:getopts(S, Opts).

-spec peername(socket()) ->
                      {ok, {inet:ip_address(), inet:port_number()}} |
                      {error, atom()}.
peername(S) ->
    inet:peername(S).

-spec sockname(socket()) ->
                      {ok, {inet:ip_address(), inet:port_number()}} |
                      {error, atom()}.
sockname(S) ->
    inet:sockname(S).

%% @doc The local port number, as inet:port/1 (OTP ssl calls it on its
%% transport module, cb_info).
-spec port(socket()) -> {ok, inet:port_number()} | {error, atom()}.
port(S) ->
    inet:port(S).

-spec getstat(socket()) -> {ok, [{atom(), integer()}]} | {error, atom()}.
getstat(S) ->
    inet:getstat(S).

-spec getstat(socket(), [atom()]) -> {ok, [{atom(), integer()}]} | {error, atom()}.
getstat(S, Stats) ->
    inet:getstat(S, Stats).

%% @doc Which pollset (= scheduler) serves a socket.
-spec socket_info(socket(), pollset | scheduler) ->
                         pos_integer() | {error, closed}.
socket_info(S, Key) when is_port(S), (Key =:= pollset orelse Key =:= scheduler) ->
    case catch ctl(S, ?GS_REQ_SOCKINFO, <<>>) of
        <<?GS_REP_OK, Index:32>> -> Index;
        _ -> {error, closed}
    end.

%% @doc Per pollset: scheduler, sockets, dispatch rounds run on the
%% scheduler side, watcher wake-ups and socket events handled.
-spec info() -> [[{atom(), non_neg_integer()}]].
info() ->
    case whereis(gen_socket_sup) =/= undefined orelse ensure_started() of
        {error, _} -> [];
        _ -> gen_socket_sup:pollset_info()
    end.

%%% ---- internals ----------------------------------------------------------

%% Opens a socket port bound to a pollset by the binding policy, applies
%% the options, runs Fun; closes the port if any step fails.
with_open(Family, Fd, SockOpts, Fun) ->
    case open(Family, Fd, SockOpts, 1) of
        {ok, S} ->
            case Fun(S) of
                ok -> {ok, S};
                Error -> catch erlang:port_close(S), Error
            end;
        Error ->
            Error
    end.

open(Family, Fd, SockOpts, Retries) ->
    try erlang:open_port({spawn_driver, ?GS_DRIVER}, [binary]) of
        S -> open_socket(S, Family, Fd, SockOpts, Retries)
    catch
        error:badarg when Retries > 0 ->
            %% The driver is not loaded: nobody started us yet.
            start_then(fun() -> open(Family, Fd, SockOpts, Retries - 1) end)
    end.

open_socket(S, Family, Fd, SockOpts, Retries) ->
    Fam = case Family of inet -> 1; inet6 -> 2; local -> 3 end,
    Adopt = case Fd of -1 -> <<>>; _ -> <<Fd:32>> end,
    case ctl(S, ?GS_REQ_OPEN, <<Fam, (scheduler_id()):32, Adopt/binary>>) of
        <<?GS_REP_OK, Pollset:32, Bind>> ->
            bind_process(Bind =:= 1, Pollset),
            case prim_inet:setopts(S, SockOpts) of
                ok ->
                    inet_db:register_socket(S, ?MODULE),
                    {ok, S};
                Error ->
                    erlang:port_close(S),
                    Error
            end;
        <<?GS_REP_ERROR, "no_pollset">> when Retries > 0 ->
            %% Loaded, but not running (stopped, or never started).
            erlang:port_close(S),
            start_then(fun() -> open(Family, Fd, SockOpts, Retries - 1) end);
        <<?GS_REP_ERROR, "no_pollset">> ->
            erlang:port_close(S),
            {error, closed};
        <<?GS_REP_ERROR, E/binary>> ->
            erlang:port_close(S),
            {error, binary_to_atom(E, latin1)}
    end.

start_then(Fun) ->
    case ensure_started() of
        ok -> Fun();
        Error -> Error
    end.

%% No setup call, as with gen_tcp: the application (driver, pollsets)
%% comes up on first use.  Concurrent first calls all ask the application
%% controller, which starts it once and tells the others already_started.
%% Never while the node is stopping: an acceptor pool restarting against
%% a stopped gen_socket must not bring it back during init:stop/0 (the
%% controller, busy stopping, would never answer); those calls get
%% {error, closed}, as on a closed socket.
%% A start in progress makes the controller hold the other callers until
%% it is done, so whoever returns from here finds the pollsets running.
ensure_started() ->
    case node_stopping() of
        true ->
            {error, closed};
        false ->
            case catch application:start(gen_socket) of
                ok -> ok;
                {error, {already_started, gen_socket}} -> ok;
                Other -> not_started(Other)
            end
    end.

not_started(Reason) ->
    case node_stopping() of
        true -> {error, closed};
        false -> erlang:error({gen_socket_not_started, Reason})
    end.

node_stopping() ->
    case init:get_status() of
        {stopping, _} -> true;
        _ -> false
    end.

bind(_S, none, _Port) ->
    ok;
bind(S, IP, Port) ->
    status(ctl(S, ?GS_REQ_BIND, [<<Port:16>> | ip_bytes(IP)])).

ip_bytes({local, Path}) -> Path;
ip_bytes({A, B, C, D}) -> [A, B, C, D];
ip_bytes({A, B, C, D, E, F, G, H}) ->
    <<A:16, B:16, C:16, D:16, E:16, F:16, G:16, H:16>>.

any_addr(inet) -> {0, 0, 0, 0};
any_addr(inet6) -> {0, 0, 0, 0, 0, 0, 0, 0}.

family_of(S) ->
    case inet:sockname(S) of
        {ok, {{_, _, _, _, _, _, _, _}, _}} -> inet6;
        _ -> inet
    end.

status(<<?GS_REP_OK>>) -> ok;
status(<<?GS_REP_ERROR, E/binary>>) -> {error, binary_to_atom(E, latin1)}.

ctl(S, Req, Data) ->
    erlang:port_control(S, Req, Data).

%% Waits for the completion of a request the driver registered.  On
%% timeout the driver is asked to cancel; if it already sent the
%% completion, that message is the answer (nothing is lost or reordered).
await(S, Timeout) ->
    receive
        {?GS_TAG, S, Reply} -> Reply
    after Timeout ->
            case catch ctl(S, ?GS_REQ_CANCEL, <<>>) of
                <<?GS_REP_OK>> -> {error, timeout};
                _ -> receive {?GS_TAG, S, Reply} -> Reply end
            end
    end.

%% The binding policy (see README): with policy 1 the caller moves to the
%% scheduler of its socket's pollset, if that scheduler is online, and is
%% not left bound (gen_socket_sched: a process bound to a scheduler that
%% goes offline would never run again).
bind_process(true, Pollset) ->
    _ = gen_socket_sched:move_to(Pollset),
    ok;
bind_process(_, _) ->
    ok.

scheduler_id() ->
    erlang:system_info(scheduler_id).

check_timeout(infinity) -> ok;
check_timeout(T) when is_integer(T), T >= 0 -> ok;
check_timeout(_) -> erlang:error(badarg).     % as gen_tcp's timer does

deadline(infinity) -> infinity;
deadline(T) -> now_ms() + T.

remaining(infinity) -> infinity;
remaining(Deadline) -> erlang:max(0, Deadline - now_ms()).

now_ms() ->
    {M, S, U} = os:timestamp(),
    (M * 1000000 + S) * 1000 + U div 1000.
