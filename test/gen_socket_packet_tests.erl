%% Side by side, packet modes: each byte stream is framed by gen_tcp and by
%% gen_socket, passively (whole, and cut into 1-byte writes) and actively
%% (binary and list mode), and the packet terms must be equal.
-module(gen_socket_packet_tests).
-include_lib("eunit/include/eunit.hrl").

-import(gs_test_lib, [pair/2, pair/3, recv_exact/3]).

-export([passive/3, active/3, errors/2, packet_send/1, header_option/1,
         packet_recv_length/1, http_switch_to_raw/1, http_state_kept/1,
         http_line_limits/2, http_recv_timeout/1, http_active_n/1,
         http_closed/1, fuzz/2]).

-define(P, [binary, {active, false}]).

packet_test_() ->
    {setup, fun gs_test_lib:start/0,
     [case F of
          {timeout, _, _} -> {Name, F};
          _ -> {Name, {timeout, 60, fun() -> same(F) end}}
      end || {Name, F} <- scenarios(), gs_compat:applies(?MODULE, Name)]}.

same(F) ->
    {T, S} = gs_test_lib:same(F),
    ?assertEqual(T, S).

scenarios() ->
    Streams = streams(),
    [{lists:flatten(io_lib:format("~p ~p ~p", [passive, Id, Cut])),
      fun(Mod) -> ?MODULE:passive(Mod, {Id, Type, Stream}, Cut) end}
     || {Id, Type, Stream} <- Streams, Cut <- [whole, bytes]] ++
    [{lists:flatten(io_lib:format("~p ~p ~p", [active, Id, M])),
      fun(Mod) -> ?MODULE:active(Mod, {Id, Type, Stream}, M) end}
     || {Id, Type, Stream} <- Streams, M <- [binary, list]] ++
    [{lists:flatten(io_lib:format("~p ~p ~p", [active, Id, bytes])),
      fun(Mod) -> ?MODULE:active(Mod, {Id, Type, Stream}, {binary, bytes}) end}
     || {Id, Type, Stream} <- Streams] ++
    [{lists:flatten(io_lib:format("errors ~p", [Opts])),
      fun(Mod) -> ?MODULE:errors(Mod, {Opts, Stream}) end}
     || {Opts, Stream} <- error_streams()] ++
    [{lists:flatten(io_lib:format("http line limits ~p", [Opts])),
      fun(Mod) -> ?MODULE:http_line_limits(Mod, Opts) end}
     || Opts <- [[], [{packet_size, 30}], [{buffer, 40}],
                 [{packet_size, 4000}, {buffer, 40}]]] ++
    [{"differential fuzz of the parsed types",
      {timeout, 120, fun() -> fuzz_same() end}}] ++
    [{atom_to_list(N), fun(Mod) -> ?MODULE:N(Mod) end}
     || N <- [packet_send, header_option, packet_recv_length,
              http_switch_to_raw, http_state_kept, http_recv_timeout,
              http_active_n, http_closed]].

%%% ---- byte streams ---------------------------------------------------------

%% {Id, PacketType, Stream}: several packets of each framing type.
streams() ->
    Giop = fun(Body, LE) ->
                   Size = byte_size(Body),
                   SizeB = case LE of true -> <<Size:32/little>>; false -> <<Size:32>> end,
                   Flags = case LE of true -> 1; false -> 0 end,
                   <<"GIOP", 1, 2, Flags, 0, SizeB/binary, Body/binary>>
           end,
    Fcgi = fun(Body, Pad) ->
                   <<1, 5, 1:16, (byte_size(Body)):16, Pad, 0, Body/binary,
                     (binary:copy(<<0>>, Pad))/binary>>
           end,
    Tpkt = fun(Body) -> <<3, 0, (byte_size(Body) + 4):16, Body/binary>> end,
    [{1, 1, <<3, "abc", 0, 1, "x">>},
     {2, 2, <<0, 3, "abc", 0, 0, 0, 300:16, (binary:copy(<<"y">>, 300))/binary>>},
     {4, 4, <<5:32, "hello", 0:32, 2:32, "ok">>},
     {raw, raw, <<"just bytes">>},
     {sunrm, sunrm, <<1:1, 3:31, "abc", 0:1, 2:31, "de">>},
     {asn1, asn1, <<16#30, 3, 1, 2, 3, 16#1f, 16#81, 16#01, 2, "xy",
                    4, 16#81, 130, (binary:copy(<<"z">>, 130))/binary>>},
     {cdr, cdr, <<(Giop(<<"body">>, false))/binary, (Giop(<<"le body">>, true))/binary>>},
     {fcgi, fcgi, <<(Fcgi(<<"param">>, 3))/binary, (Fcgi(<<>>, 0))/binary>>},
     {tpkt, tpkt, <<(Tpkt(<<"t1">>))/binary, (Tpkt(<<"second">>))/binary>>},
     {line, line, <<"first line\nsecond\n\nlast\n">>},
     {ssl_tls, ssl_tls, <<22, 3, 1, 0, 3, "abc", 23, 3, 3, 0, 0,
                          21, 3, 3, 0, 2, 1, 0>>},
     {ssl_v2_hello, ssl_tls, <<16#80, 8, 1, 3, 1, "abcde", 22, 3, 3, 0, 1, "z">>}]
    ++ [{{T, Id}, T, S} || T <- [http, http_bin], {Id, S} <- http_streams()]
    ++ [{{T, Id}, T, S} || T <- [httph, httph_bin], {Id, S} <- httph_streams()].

http_streams() ->
    [{request,
      <<"GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\n"
        "user-agent: t/1.0\r\nACCEPT: */*\r\nX-Custom-HEADER: v\r\n"
        "content-length: 0\r\nCookie: a=b; c=d\r\n\r\n">>},
     {pipelined,
      <<"POST /a HTTP/1.0\r\nContent-Type: text/plain\r\n\r\n"
        "PUT /b HTTP/1.1\r\n\r\nDELETE /c HTTP/1.1\r\nConnection: close\r\n\r\n">>},
     {response,
      <<"HTTP/1.1 200 OK\r\nServer: s\r\nSet-Cookie: k=v\r\n"
        "Content-Length: 2\r\n\r\nHTTP/1.0 404 Not Found\r\n\r\n"
        "HTTP/1.1 204\r\n\r\nHTTP/1.1 301  Moved  Permanently \r\n\r\n">>},
     {folded,
      <<"GET / HTTP/1.1\r\nX-Long: a\r\n b\r\n\tc\r\nHost: h\r\n"
        "Via: 1.0 x\r\n  ,1.1 y\r\n\r\n">>},
     {uris,
      <<"OPTIONS * HTTP/1.1\r\n\r\n"
        "GET http://h.example:8080/p?q HTTP/1.1\r\n\r\n"
        "GET HTTPS://s.example/ HTTP/1.1\r\n\r\n"
        "GET http://h.example HTTP/1.1\r\n\r\n"
        "GET http://h:80x/ HTTP/1.1\r\n\r\n"
        "CONNECT host:443 HTTP/1.1\r\n\r\n"
        "GET foo HTTP/1.1\r\n\r\n"
        "GET mailto:a@b HTTP/1.1\r\n\r\n"
        "TRACE / HTTP/1.1\r\n\r\n"
        "HEAD / HTTP/1.1\r\n\r\n">>},
     {old_versions,
      <<"GET /x\r\nHost: a\r\n\r\nget /lower HTTP/1.0\r\n\r\n"
        "GET / HTTP/12.34 trailing\r\n\r\nGET  /spaces   HTTP/1.1\r\n\r\n">>},
     {lf_only, <<"GET / HTTP/1.0\nHost: a\nX-A: b\n\n">>},
     {errors,
      <<"bad\r\n\r\nGET / HTTP/x.1\r\n\r\nGET / FTP/1.1\r\n"
        "\r\nHTTP/1.1 abc\r\n\r\nGET / HTTP/1.1\r\nno colon here\r\n"
        "Bad Name: x\r\n\r\n">>},
     {headers,
      <<"GET / HTTP/1.1\r\n"
        "content-md5: m\r\nwww-authenticate: w\r\nETAG: e\r\n"
        "set-cookie2: s\r\nx-forwarded-for: 1.2.3.4\r\n"
        "proxy-connection: k\r\nkeep-alive: 5\r\nif-none-match: *\r\n"
        "a-b--c-: weird\r\n:empty name\r\nEmpty-Value:\r\n"
        "Spaces:    v  \r\n"
        "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-Long: l\r\n"
        "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: fifty\r\n"
        "\r\n">>},
     {high_bytes, <<"GET /\xe9t\xe9 HTTP/1.1\r\nX-\xc3\xa9: \xff\r\n\r\n">>},
     {empty_lines, <<"\r\n\nGET / HTTP/1.1\r\n\r\n">>}].

httph_streams() ->
    [{plain, <<"Host: a\r\nContent-Length: 10\r\n\r\nX: 1\r\n\r\n">>},
     {folded, <<"A: 1\r\n 2\r\nB: 3\r\n\r\n">>},
     {not_a_request, <<"GET / HTTP/1.1\r\nHost: a\r\n\r\n">>}].

%% {Opts, Stream}: framing errors and limits.
error_streams() ->
    [{[{packet, 4}, {packet_size, 10}], <<20:32, (binary:copy(<<"a">>, 20))/binary>>},
     {[{packet, 2}, {packet_size, 3}], <<0, 3, "abc", 0, 4, "abcd">>},
     {[{packet, 1}, {packet_size, 1}], <<1, "a", 2, "bc">>},
     {[{packet, cdr}], <<"GIOX", 0:64>>},
     {[{packet, fcgi}], <<2, 0:56>>},
     {[{packet, tpkt}], <<4, 0, 0, 8, 0:32>>},
     {[{packet, line}, {packet_size, 5}], <<"toolongline\n">>},
     {[{packet, line}], <<(binary:copy(<<"L">>, 3000))/binary, "\n">>},
     {[{packet, line}, {buffer, 10}], <<"0123456789abcdef\nend\n">>},
     {[{packet, line}, {line_delimiter, $;}], <<"a;b;c">>},
     {[{packet, line}, {line_delimiter, 0}], <<"a", 0, "b", 0>>},
     {[{packet, asn1}], <<16#30, 16#85, 0:40>>},
     {[{packet, asn1}, {packet_size, 2}], <<16#30, 3, 1, 2, 3>>},
     {[{packet, sunrm}, {packet_size, 4}], <<0:1, 5:31, "hello">>},
     {[{packet, ssl_tls}, {packet_size, 3}], <<22, 3, 1, 0, 4, "abcd">>},
     {[{packet, http}, {packet_size, 10}], <<"GET /a/long/path HTTP/1.1\r\n">>},
     {[{packet, httph}, {packet_size, 10}], <<"Host: a\r\nX-Long-Header: value\r\n\r\n">>},
     {[{packet, http_bin}, {packet_size, 20}],
      <<"GET / HTTP/1.1\r\nX: a\r\n bbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\n">>}].

%%% ---- scenarios ------------------------------------------------------------

passive(Mod, {_Id, Type, Stream}, Cut) ->
    {L, C, S} = pair(Mod, ?P),
    ok = inet:setopts(S, [{packet, Type}]),
    Self = self(),
    spawn(fun() -> send_cut(Mod, C, Stream, Cut), Self ! sent end),
    R = recv_packets(Mod, S, []),
    receive sent -> ok end,
    [Mod:close(X) || X <- [C, S, L]],
    raw_joined(Type, R).

%% raw has no packets: how the bytes are split depends on timing, so the
%% bytes are compared joined (the final error still on its own).
raw_joined(raw, R) ->
    {Data, Rest} = lists:partition(fun(X) -> is_binary(X) end, R),
    [iolist_to_binary(Data) | Rest];
raw_joined(_, R) ->
    R.

send_cut(Mod, C, Stream, whole) -> ok = Mod:send(C, Stream);
send_cut(Mod, C, Stream, bytes) ->
    [begin ok = Mod:send(C, [B]), timer:sleep(0) end || <<B>> <= Stream].

recv_packets(Mod, S, Acc) ->
    case Mod:recv(S, 0, 300) of
        {ok, P} -> recv_packets(Mod, S, [P | Acc]);
        Other -> lists:reverse([Other | Acc])
    end.

%% Active: many packets in one segment, delivered one message each.
active(Mod, {_Id, Type, Stream}, {M, Cut}) ->
    {L, C, S} = pair(Mod, ?P),
    ok = inet:setopts(S, [{packet, Type}, M, {active, true}]),
    send_cut(Mod, C, Stream, Cut),
    Msgs = collect(S),
    [Mod:close(X) || X <- [C, S, L]],
    case Type of
        raw -> [iolist_to_binary([D || {tcp, _, D} <- Msgs])];
        _ -> Msgs
    end;
active(Mod, Stream, M) ->
    active(Mod, Stream, {M, whole}).

%% Every message about S until 300 ms of silence.
collect(S) ->
    gs_test_lib:collect(S, 300).

errors(Mod, {Opts, Stream}) ->
    {L, C, S} = pair(Mod, ?P),
    ok = inet:setopts(S, Opts),
    ok = Mod:send(C, Stream),
    R = recv_packets(Mod, S, []),
    [Mod:close(X) || X <- [C, S, L]],
    R.

%% An http line is limited by packet_size, or else by the buffer size.
http_line_limits(Mod, Opts) ->
    {L, C, S} = pair(Mod, ?P),
    ok = inet:setopts(S, [{packet, http_bin} | Opts]),
    Path = binary:copy(<<"p">>, 1500),
    ok = Mod:send(C, <<"GET /short HTTP/1.1\r\nHost: h\r\n\r\n",
                       "GET /", Path/binary, " HTTP/1.1\r\n">>),
    R = recv_packets(Mod, S, []),
    [Mod:close(X) || X <- [C, S, L]],
    R.

%% The usual server: headers in http mode, then the body raw.
http_switch_to_raw(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = inet:setopts(S, [{packet, http_bin}]),
    ok = Mod:send(C, <<"POST /up HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\n\r\n">>),
    R1 = [Mod:recv(S, 0, 1000) || _ <- [1, 2, 3]],
    ok = inet:setopts(S, [{packet, raw}]),
    R2 = Mod:recv(S, 5, 1000),
    ok = inet:setopts(S, [{packet, http_bin}]),
    R3 = [Mod:recv(S, 0, 1000) || _ <- [1, 2]],
    [Mod:close(X) || X <- [C, S, L]],
    [R1, R2, R3].

%% Changing the packet type keeps the request/header state, as gen_tcp.
http_state_kept(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = inet:setopts(S, [{packet, http}]),
    ok = Mod:send(C, <<"GET / HTTP/1.1\r\n">>),
    R1 = Mod:recv(S, 0, 1000),
    ok = inet:setopts(S, [{packet, raw}]),
    ok = inet:setopts(S, [{packet, http}]),
    ok = Mod:send(C, <<"Host: y\r\n\r\n">>),
    R2 = [Mod:recv(S, 0, 1000) || _ <- [1, 2]],
    ok = inet:setopts(S, [{packet, httph_bin}]),
    ok = Mod:send(C, <<"GET / HTTP/1.1\r\n\r\n">>),
    R3 = [Mod:recv(S, 0, 1000) || _ <- [1, 2]],
    ok = inet:setopts(S, [{packet, http_bin}]),
    ok = Mod:send(C, <<"GET / HTTP/1.1\r\n\r\n">>),
    R4 = [Mod:recv(S, 0, 1000) || _ <- [1, 2]],
    [Mod:close(X) || X <- [C, S, L]],
    [R1, R2, R3, R4].

%% A header line is complete only when the next byte shows it is not
%% folded: recv times out, then the next byte completes it.
http_recv_timeout(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = inet:setopts(S, [{packet, http}]),
    ok = Mod:send(C, <<"GET / HTTP/1.1\r\nHost: a\r\n">>),
    R1 = [Mod:recv(S, 0, 200) || _ <- [1, 2]],
    ok = Mod:send(C, <<" b\r\n\r\n">>),
    R2 = [Mod:recv(S, 0, 1000) || _ <- [1, 2]],
    R3 = Mod:recv(S, 5, 100),
    [Mod:close(X) || X <- [C, S, L]],
    [R1, R2, R3].

http_active_n(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = inet:setopts(S, [{packet, http_bin}, {active, 2}]),
    ok = Mod:send(C, <<"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n">>),
    M1 = collect(S),
    ok = inet:setopts(S, [{active, once}]),
    M2 = collect(S),
    R = [Mod:recv(S, 0, 500), Mod:recv(S, 0, 100)],
    [Mod:close(X) || X <- [C, S, L]],
    [M1, M2, R].

%% The peer closes in the middle of the headers.
http_closed(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    {L2, C2, S2} = pair(Mod, ?P),
    ok = inet:setopts(S, [{packet, http}]),
    ok = inet:setopts(S2, [{packet, http_bin}, {active, true}]),
    [ok = Mod:send(X, <<"GET / HTTP/1.1\r\nHost: a\r\n">>) || X <- [C, C2]],
    Mod:close(C),
    Mod:close(C2),
    R1 = [Mod:recv(S, 0, 1000) || _ <- [1, 2, 3]],
    M = collect(S2),
    [Mod:close(X) || X <- [S, L, S2, L2]],
    [R1, M].

%% Random streams built from HTTP-ish pieces and random bytes, each sent
%% whole and then closed: every packet term and the final error must be
%% gen_tcp's.
fuzz_same() ->
    Seed = {erlang:phash2(os:timestamp()), 5, 77},
    ?debugFmt("packet fuzz seed ~p", [Seed]),
    rand:seed(exsplus, Seed),
    Types = [http, http_bin, httph, httph_bin, ssl_tls, line, asn1],
    Cases = [{lists:nth(rand:uniform(length(Types)), Types), fuzz_stream()}
             || _ <- lists:seq(1, 500)],
    same(fun(Mod) -> ?MODULE:fuzz(Mod, Cases) end).

%% One or two messages from a small HTTP grammar whose every choice has
%% odd alternatives, with the occasional random bytes thrown in.
fuzz_stream() ->
    iolist_to_binary([fuzz_message() || _ <- lists:seq(1, rand:uniform(2))]).

fuzz_message() ->
    Start = case rand:uniform(3) of
                1 -> [pick(["HTTP/1.1", "HTTP/1.0", "HTTP/x", "HTTP/1."]),
                      pick([" ", "  ", "", "\t"]),
                      pick(["200", "404", "", "abc", "99999"]),
                      pick(["", " OK", " Not Found ", "OK"])];
                _ -> [pick(["GET", "POST", "get", "FOO", "", "OPTIONS"]),
                      pick([" ", "  ", "\t"]),
                      pick(["/", "/a?b=c", "*", "http://h:80/x", "https://h",
                            "HTTP://H:8x/", "http://h:0", "mailto:x", "foo",
                            "http://[::1]:4000/p", ""]),
                      pick(["", " HTTP/1.1", " HTTP/1.0", " HTTP/x", " HTTP/12.3 junk",
                            " FTP/1.0", "  HTTP/1.1  "])]
            end,
    Headers = [[pick(["Host", "content-LENGTH", "x-a-b", "X--Y-", "",
                      "Bad Name", "Set-Cookie2", lists:duplicate(55, $n),
                      "www-authenticate"]),
                pick([":", ": ", ":\t ", ""]),
                pick(["v", "", "a b ", "1,\r\n 2", "x\r\n\ty"]),
                eol()] || _ <- lists:seq(1, rand:uniform(5) - 1)],
    Lines = [[Start, eol()], Headers, eol()],
    case rand:uniform(6) of
        1 -> [crypto_free_bytes(rand:uniform(4)) | Lines];
        2 -> [Lines, crypto_free_bytes(rand:uniform(4)), eol()];
        _ -> Lines
    end.

eol() -> pick(["\r\n", "\r\n", "\r\n", "\n"]).

pick(L) -> lists:nth(rand:uniform(length(L)), L).

crypto_free_bytes(N) ->
    list_to_binary([rand:uniform(256) - 1 || _ <- lists:seq(1, N)]).

fuzz(Mod, Cases) ->
    {ok, L} = Mod:listen(0, [{reuseaddr, true} | ?P]),
    {ok, Port} = inet:port(L),
    R = [begin
             {ok, C} = Mod:connect({127, 0, 0, 1}, Port, ?P),
             {ok, S} = Mod:accept(L, 5000),
             ok = inet:setopts(S, [{packet, Type}]),
             ok = Mod:send(C, Stream),
             ok = Mod:close(C),
             Got = recv_all(Mod, S),
             Mod:close(S),
             {Type, Stream, Got}
         end || {Type, Stream} <- Cases],
    Mod:close(L),
    R.

recv_all(Mod, S) ->
    case Mod:recv(S, 0, 2000) of
        {ok, P} -> [P | recv_all(Mod, S)];
        Other -> [Other]
    end.

%%% ---- moved from the compat suite: send side, {header, N}, recv length --

%% The sender adds the 1/2/4 length header (cut to its width, as
%% inet_drv does); other types send the bytes as they are.
packet_send(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    Big = binary:copy(<<"b">>, 70000),
    R = [begin
             ok = inet:setopts(C, [{packet, T}]),
             ok = Mod:send(C, D),
             N = iolist_size(D) + case T of 1 -> 1; 2 -> 2; 4 -> 4; _ -> 0 end,
             erlang:md5(recv_exact(Mod, S, N))
         end || {T, D} <- [{1, <<"ab">>}, {1, binary:copy(<<"a">>, 300)},
                           {2, [<<"x">>, "y", [<<"z">>]]}, {2, Big}, {4, Big},
                           {4, <<>>}, {4, [Big, "tail"]}, {sunrm, <<"zz">>},
                           {line, "no header"}, {http, "GET / HTTP/1.1\r\n"},
                           {ssl_tls, <<22, 3, 1, 0, 1, 0>>}]],
    [Mod:close(X) || X <- [C, S, L]],
    R.

header_option(Mod) ->
    {L, C, S} = pair(Mod, ?P),
    ok = inet:setopts(S, [{header, 2}]),
    R1 = [begin ok = Mod:send(C, D), timer:sleep(20), Mod:recv(S, 0, 1000) end
          || D <- [<<"abcdef">>, <<"a">>, <<"ab">>]],
    Self = self(),
    spawn(fun() -> Self ! {r, Mod:recv(S, 0, 2000)} end),
    timer:sleep(50),
    ok = Mod:send(C, <<"async">>),
    R2 = receive {r, X} -> X after 3000 -> none end,
    ok = inet:setopts(S, [list]),
    ok = Mod:send(C, <<"abc">>),
    R3 = Mod:recv(S, 0, 1000),
    ok = inet:setopts(S, [binary, {active, once}]),
    ok = Mod:send(C, <<"xyz">>),
    M = receive Msg -> Msg after 2000 -> no_message end,
    [Mod:close(Y) || Y <- [C, S, L]],
    [R1, R2, R3, M].

packet_recv_length(Mod) ->
    {L, C, S} = pair(Mod, [{packet, 2} | ?P]),
    ok = Mod:send(C, <<"abcdef">>),
    R = [Mod:recv(S, 0, 1000), Mod:recv(S, 3, 100), inet:getopts(S, [packet])],
    ok = inet:setopts(S, [{packet, http}]),
    R2 = Mod:recv(S, 3, 100),
    [Mod:close(X) || X <- [C, S, L]],
    [R, R2].

