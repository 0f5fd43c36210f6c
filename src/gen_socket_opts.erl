%% @doc The option codec of gen_socket: splits a gen_tcp option list into
%% what the socket is opened and bound with (family, address, port,
%% backlog) and the socket options, checked the way gen_tcp checks them
%% (inet:listen_options/2, inet:connect_options/2), with gen_socket's own
%% defaults (binary, {active, false}) under the caller's options.
-module(gen_socket_opts).

-export([listen/1, connect/1, defaults/0, local_path/1]).

-record(gs_opts, {family = inet :: inet | inet6 | local,
                  ifaddr :: undefined | any | loopback | inet:ip_address() |
                            {local, string() | binary()},
                  port = 0 :: inet:port_number(),
                  backlog = 5 :: term(),
                  fd = -1 :: term(),
                  opts = [] :: [{atom(), term()}]}).

%% {Family, IfAddr, Port, Backlog, Fd, SockOpts}; Fd is -1 unless
%% {fd, Fd} gave an fd to adopt.
-type parsed() :: {inet | inet6 | local,
                   undefined | inet:ip_address() | {local, binary()},
                   inet:port_number(), term(), integer(),
                   [{atom(), term()}]}.
-export_type([parsed/0]).

%% Options of later releases (OTP 26): accepted only where the running
%% prim_inet knows them (is_sockopt_val/2 is false otherwise), so
%% gen_socket rejects them exactly where gen_tcp does.
-define(NEWER_OPTS, [reuseport, reuseport_lb, exclusiveaddruse]).

%% The option names gen_tcp accepts (inet:listen_options/0 and
%% inet:connect_options/0 of OTP 25), and the newer ones above.
-define(LISTEN_OPTS,
        [debug, tos, tclass, priority, reuseaddr, keepalive, linger, sndbuf,
         recbuf, nodelay, recvtos, recvtclass, ttl, recvttl, header, active,
         packet, buffer, mode, deliver, backlog, ipv6_v6only, exit_on_close,
         high_watermark, low_watermark, high_msgq_watermark,
         low_msgq_watermark, send_timeout, send_timeout_close, delay_send,
         packet_size, raw, show_econnreset, bind_to_device
         | ?NEWER_OPTS]).
-define(CONNECT_OPTS,
        [debug, tos, tclass, priority, reuseaddr, keepalive, linger, nodelay,
         sndbuf, recbuf, recvtos, recvtclass, ttl, recvttl, header, active,
         packet, packet_size, buffer, mode, deliver, line_delimiter,
         exit_on_close, high_watermark, low_watermark, high_msgq_watermark,
         low_msgq_watermark, send_timeout, send_timeout_close, delay_send,
         raw, show_econnreset, bind_to_device | ?NEWER_OPTS]).

%% @doc gen_socket's defaults: the original gen_socket's, binary and
%% passive (gen_tcp's are list and {active, true}).
-spec defaults() -> [{atom(), term()}].
defaults() ->
    [{mode, binary}, {active, false}].

-spec listen(list()) -> {ok, parsed()} | {error, badarg}.
listen(Opts) ->
    parse(Opts, ?LISTEN_OPTS).

-spec connect(list()) -> {ok, parsed()} | {error, badarg}.
connect(Opts) ->
    parse(Opts, ?CONNECT_OPTS).

%% {inet_backend, B} as the first option chooses gen_tcp's backend (OTP
%% 23+); gen_socket is its own backend, so inet and socket are accepted and
%% ignored.  Elsewhere in the list it is badarg, and an unknown backend
%% crashes, as in gen_tcp.
%% Releases before OTP 23 (no inet:gen_tcp_module/1) know no backend:
%% there it is an unknown option, badarg, as in their gen_tcp.
parse([{inet_backend, B} | Opts] = All, Allowed) ->
    case erlang:function_exported(inet, gen_tcp_module, 1) of
        true when B =:= inet; B =:= socket -> parse(Opts, Allowed);
        true -> erlang:error(function_clause);
        false -> parse_opts(All, Allowed)
    end;
parse(Opts, Allowed) ->
    parse_opts(Opts, Allowed).

parse_opts(Opts, Allowed) when is_list(Opts) ->
    try lists:foldl(fun(O, R) -> opt(O, R, Allowed) end,
                    #gs_opts{opts = lists:reverse(defaults())}, Opts) of
        #gs_opts{} = R -> finish(R)
    catch
        throw:badarg -> {error, badarg}
    end;
parse_opts(_, _) ->
    {error, badarg}.

finish(#gs_opts{family = F, ifaddr = IfAddr} = R) ->
    Family = case IfAddr of
                 {_, _, _, _, _, _, _, _} -> inet6;
                 {local, _} -> local;
                 _ -> F
             end,
    case valid_ifaddr(IfAddr, Family) of
        true ->
            {ok, {Family, translate_ip(IfAddr, Family), R#gs_opts.port,
                  R#gs_opts.backlog, fd(R#gs_opts.fd),
                  lists:reverse(R#gs_opts.opts)}};
        false ->
            {error, badarg}
    end.

opt(inet, R, _) -> R#gs_opts{family = inet};
opt(inet6, R, _) -> R#gs_opts{family = inet6};
opt(local, R, _) -> R#gs_opts{family = local};
opt({tcp_module, M}, R, _) when is_atom(M) -> R;
opt({ip, IP}, R, _) -> R#gs_opts{ifaddr = IP};
opt({ifaddr, IP}, R, _) -> R#gs_opts{ifaddr = IP};
opt({fd, Fd}, R, _) -> R#gs_opts{fd = Fd};
opt({port, P}, R, _) when is_integer(P), P >= 0, P =< 65535 ->
    R#gs_opts{port = P};
opt({backlog, B}, R, As) ->
    check_allowed(backlog, As),
    R#gs_opts{backlog = B};
opt(binary, R, As) -> add(mode, binary, R, As);
opt(list, R, As) -> add(mode, list, R, As);
opt({active, N}, R, _) when is_integer(N), N < 32768, N >= -32768 ->
    %% {active, N} is OTP 17+: before (releases named "R..."), gen_tcp
    %% refuses it with badarg.
    case erlang:system_info(otp_release) of
        [$R | _] ->
            throw(badarg);
        _ ->
            R#gs_opts{opts = [{active, N} |
                              lists:keydelete(active, 1, R#gs_opts.opts)]}
    end;
opt({line_delimiter, C}, R, As) when is_integer(C), C >= 0, C =< 255 ->
    add(line_delimiter, C, R, As);
opt({raw, P, O, B}, R, As) -> add(raw, {P, O, B}, R, As);
opt({Name, Val}, R, As) when is_atom(Name) -> add(Name, Val, R, As);
opt(_, _, _) -> throw(badarg).

add(Name, Val, R, As) ->
    check_allowed(Name, As),
    case prim_inet:is_sockopt_val(Name, Val) of
        true when Name =:= raw ->
            R#gs_opts{opts = [{raw, Val} | R#gs_opts.opts]};
        true ->
            R#gs_opts{opts = [{Name, Val} |
                              lists:keydelete(Name, 1, R#gs_opts.opts)]};
        false ->
            throw(badarg)
    end.

check_allowed(Name, As) ->
    case lists:member(Name, As) of
        true -> ok;
        false -> throw(badarg)
    end.

%% As gen_tcp: only a non-negative integer names an fd; anything else
%% (-1, an atom) means "open a new socket".
fd(Fd) when is_integer(Fd), Fd >= 0 -> Fd;
fd(_) -> -1.

valid_ifaddr(undefined, _) -> true;
valid_ifaddr({local, P}, local) -> is_list(P) orelse is_binary(P);
valid_ifaddr(any, _) -> true;
valid_ifaddr(loopback, _) -> true;
valid_ifaddr({A, B, C, D}, inet) ->
    lists:all(fun(X) -> is_integer(X) andalso X >= 0 andalso X =< 255 end,
              [A, B, C, D]);
valid_ifaddr({_, _, _, _, _, _, _, _} = IP, inet6) ->
    lists:all(fun(X) -> is_integer(X) andalso X >= 0 andalso X =< 65535 end,
              tuple_to_list(IP));
valid_ifaddr(_, _) -> false.

translate_ip(any, inet) -> {0, 0, 0, 0};
translate_ip(loopback, inet) -> {127, 0, 0, 1};
translate_ip(any, inet6) -> {0, 0, 0, 0, 0, 0, 0, 0};
translate_ip(loopback, inet6) -> {0, 0, 0, 0, 0, 0, 0, 1};
translate_ip({local, P}, local) -> {local, local_path(P)};
translate_ip(IP, _) -> IP.

%% @doc A unix socket's path as prim_inet encodes it: a binary as it is,
%% a name in the system's file name encoding.
-spec local_path(string() | binary()) -> binary().
local_path(P) when is_binary(P) -> P;
local_path(P) -> unicode:characters_to_binary(P, file:native_name_encoding()).
