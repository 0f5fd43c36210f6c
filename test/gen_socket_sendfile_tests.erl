%% file:sendfile/2,5 onto a socket, side by side: gen_tcp (inet_drv's
%% TCP_REQ_SENDFILE) against gen_socket (the same request answered by the
%% driver with sendfile(2)).  Whole result terms are compared.
-module(gen_socket_sendfile_tests).

-include_lib("eunit/include/eunit.hrl").

-define(BIG, (8 * 1024 * 1024)).    % more than loopback socket buffers hold

setup() ->
    gs_test_lib:start().

sendfile_test_() ->
    {setup, fun setup/0,
     [{timeout, 120, fun whole_file_slow_reader/0},
      {timeout, 60, fun offsets_and_counts/0},
      {timeout, 120, fun order_with_other_sends/0},
      {timeout, 60, fun bad_arguments/0},
      {timeout, 60, fun file_error_passive/0},
      {timeout, 60, fun file_error_active/0},
      {timeout, 60, fun peer_gone/0},
      {timeout, 60, fun closed_by_other_process/0},
      {timeout, 60, fun active_socket/0},
      {timeout, 60, fun api_functions/0},
      {timeout, 60, fun no_fd_leak/0}]}.

%% A file whose bytes are never $Z (the order test tells them apart).
tmp_file(Name, Size) ->
    F = lists:flatten(io_lib:format("/tmp/gs_sendfile_~s_~p_~p",
                                    [Name, erlang:phash2(node()),
                                     erlang:unique_integer([positive])])),
    Data = << <<(case B of $Z -> $Y; _ -> B end)>>
              || <<B>> <= crypto:strong_rand_bytes(Size) >>,
    ok = file:write_file(F, Data),
    {F, Data}.

%% A reader that takes N bytes in small pieces (a slow peer), then
%% sends them to Parent.
slow_reader(Mod, C, N) ->
    Parent = self(),
    spawn_link(fun() ->
                       Parent ! {read, read_small(Mod, C, N, [])}
               end).

read_small(_Mod, _C, 0, Acc) ->
    iolist_to_binary(lists:reverse(Acc));
read_small(Mod, C, N, Acc) ->
    case Mod:recv(C, erlang:min(N, 4096), 10000) of
        {ok, D} -> read_small(Mod, C, N - byte_size(D), [D | Acc]);
        Error -> {Error, iolist_to_binary(lists:reverse(Acc))}
    end.

read_result() ->
    receive {read, R} -> R after 60000 -> reader_timeout end.

whole_file_slow_reader() ->
    {F, Data} = tmp_file("whole", ?BIG),
    Fun = fun(Mod) ->
                  {_L, C, S} = gs_test_lib:pair(Mod, [binary, {active, false},
                                                      {sndbuf, 16384}],
                                                [binary, {active, false},
                                                 {recbuf, 16384}]),
                  slow_reader(Mod, C, ?BIG),
                  R = file:sendfile(F, S),
                  {R, read_result() =:= Data}
          end,
    {T, S} = gs_test_lib:same(Fun),
    ?assertEqual({{ok, ?BIG}, true}, T),
    ?assertEqual(T, S),
    ok = file:delete(F).

offsets_and_counts() ->
    Size = 100000,
    {F, Data} = tmp_file("offsets", Size),
    Cases = [{0, 0}, {0, 1}, {10, 100}, {Size - 10, 0}, {Size - 5, 100},
             {Size, 0}, {Size, 10}, {Size + 1000, 10}, {50000, 50000},
             {1, Size - 1}],
    Expected = iolist_to_binary(
                 [binary:part(Data, erlang:min(O, Size),
                              case B of
                                  0 -> Size - erlang:min(O, Size);
                                  _ -> erlang:min(B, Size - erlang:min(O, Size))
                              end) || {O, B} <- Cases]),
    Fun = fun(Mod) ->
                  {_L, C, S} = gs_test_lib:pair(Mod, [binary, {active, false}]),
                  {ok, Fd} = file:open(F, [read, raw, binary]),
                  Rs = [file:sendfile(Fd, S, O, B, []) || {O, B} <- Cases],
                  %% the file position is not moved by sendfile
                  Pos = file:position(Fd, cur),
                  ok = file:close(Fd),
                  Got = gs_test_lib:recv_exact(Mod, C, byte_size(Expected)),
                  {Rs, Pos, Got =:= Expected}
          end,
    {T, S} = gs_test_lib:same(Fun),
    ?assertMatch({[{ok, Size}, {ok, 1}, {ok, 100}, {ok, 10}, {ok, 5},
                   {ok, 0}, {ok, 0}, {ok, 0}, {ok, 50000}, {ok, _}],
                  {ok, 0}, true}, T),
    ?assertEqual(T, S),
    ok = file:delete(F).

%% Bytes queued before the request go first; sends made by another
%% process while the file goes out come before or after it, never inside;
%% the owner's send after sendfile returns comes after it.
order_with_other_sends() ->
    {F, Data} = tmp_file("order", ?BIG),
    Head = <<"head:">>,
    Big = binary:copy(<<"q">>, 1024 * 1024),
    Tail = <<":tail">>,
    Chunk = binary:copy(<<"Z">>, 100),
    Chunks = 300,
    Total = byte_size(Head) + byte_size(Big) + ?BIG + byte_size(Tail) +
        Chunks * byte_size(Chunk),
    Fun = fun(Mod) ->
                  {_L, C, S} = gs_test_lib:pair(Mod, [binary, {active, false},
                                                      {sndbuf, 16384}],
                                                [binary, {active, false},
                                                 {recbuf, 16384}]),
                  ok = Mod:send(S, Head),
                  ok = Mod:send(S, Big),        % queued: nobody reads yet
                  {ok, [{send_pend, Pend}]} = inet:getstat(S, [send_pend]),
                  Owner = self(),
                  Other = spawn_link(fun() ->
                                             receive go -> ok end,
                                             [ok = Mod:send(S, Chunk)
                                              || _ <- lists:seq(1, Chunks)],
                                             Owner ! other_done
                                     end),
                  slow_reader(Mod, C, Total),
                  Other ! go,
                  R = file:sendfile(F, S),
                  receive other_done -> ok end,
                  ok = Mod:send(S, Tail),
                  Stream = read_result(),
                  {R, Pend > 0,
                   check_order(Stream, <<Head/binary, Big/binary>>, Data,
                               Tail)}
          end,
    {T, S} = gs_test_lib:same(Fun),
    ?assertEqual({{ok, ?BIG}, true, {true, true, true}}, T),
    ?assertEqual(T, S),
    ok = file:delete(F).

%% {Prefix first, the file whole after whole Z chunks, only Z chunks and
%% the tail after it}
check_order(Stream, Prefix, File, Tail) when is_binary(Stream) ->
    PL = byte_size(Prefix),
    case Stream of
        <<Prefix:PL/binary, Rest/binary>> ->
            Zs = leading_z(Rest, 0),
            FL = byte_size(File),
            case Rest of
                <<_:Zs/binary, File:FL/binary, After/binary>> ->
                    TL = byte_size(Tail),
                    AL = byte_size(After) - TL,
                    <<AZ:AL/binary, LastTail:TL/binary>> = After,
                    {true, Zs rem 100 =:= 0,
                     LastTail =:= Tail andalso leading_z(AZ, 0) =:= AL};
                _ ->
                    {true, Zs rem 100 =:= 0, file_not_contiguous}
            end;
        _ ->
            {false, prefix, missing}
    end;
check_order(Other, _, _, _) ->
    Other.

leading_z(<<$Z, R/binary>>, N) -> leading_z(R, N + 1);
leading_z(_, N) -> N.

%% Refused before anything is sent: bad offsets and counts, a listening
%% socket, a closed socket, a caller that does not own the socket.
bad_arguments() ->
    {F, _} = tmp_file("bad", 1000),
    Fun = fun(Mod) ->
                  {L, C, S} = gs_test_lib:pair(Mod, [binary, {active, false}]),
                  {ok, Fd} = file:open(F, [read, raw, binary]),
                  R1 = file:sendfile(Fd, S, -1, 10, []),
                  R2 = file:sendfile(Fd, S, 0, -1, []),
                  R3 = file:sendfile(Fd, S, 1 bsl 63, 10, []),
                  R4 = file:sendfile(Fd, L, 0, 10, []),
                  Self = self(),
                  spawn(fun() ->
                                Self ! {other, file:sendfile(F, S)}
                        end),
                  R5 = receive {other, R} -> R end,
                  R6 = file:sendfile(Fd, S, 0, 10, [{chunk_size, 5}]),
                  {ok, <<_:10/binary>>} = Mod:recv(C, 10, 5000),
                  ok = Mod:close(S),
                  R7 = file:sendfile(Fd, S, 0, 10, []),
                  {ok, {_, _, C2}} = {ok, gs_test_lib:pair(Mod, [binary])},
                  R8 = file:sendfile("/nonexistent/gs_sendfile", C2),
                  [R1, R2, R3, R4, R5, R6, R7, R8]
          end,
    {T, S} = gs_test_lib:same(Fun),
    ?assertEqual([{error, einval}, {error, einval}, {error, einval},
                  {error, enotconn}, {error, not_owner}, {ok, 10},
                  {error, einval}, {error, enoent}], T),
    ?assertEqual(T, S),
    ok = file:delete(F).

%% The file cannot be read (opened for appending): the error, and as in
%% inet_drv the connection goes with it.
file_error_passive() ->
    {F, _} = tmp_file("wronly", 1000),
    Fun = fun(Mod) ->
                  {_L, C, S} = gs_test_lib:pair(Mod, [binary, {active, false}]),
                  {ok, Fd} = file:open(F, [append, raw, binary]),
                  R = file:sendfile(Fd, S, 0, 10, []),
                  After = [Mod:recv(S, 0, 1000), Mod:recv(S, 0, 1000),
                           Mod:send(S, <<"x">>), Mod:shutdown(S, write),
                           inet:peername(S), Mod:recv(C, 0, 5000)],
                  ok = inet:setopts(S, [{active, once}]),
                  Msg = receive M -> M after 5000 -> none end,
                  {R, After, Msg}
          end,
    {T, S} = gs_test_lib:same(Fun),
    ?assertEqual({{error, ebadf},
                  [{error, closed}, {error, enotconn}, {error, enotconn},
                   {error, enotconn}, {error, enotconn}, {error, closed}],
                  {tcp_closed, sock}}, T),
    ?assertEqual(T, S),
    ok = file:delete(F).

file_error_active() ->
    {F, _} = tmp_file("wronly_active", 1000),
    Fun = fun(Mod) ->
                  {_L, C, S} = gs_test_lib:pair(Mod, [binary, {active, true}],
                                                [binary, {active, false}]),
                  {ok, Fd} = file:open(F, [append, raw, binary]),
                  R = file:sendfile(Fd, S, 0, 10, []),
                  Msg = receive M -> M after 5000 -> none end,
                  {R, Msg, Mod:send(S, <<"x">>), Mod:recv(C, 0, 5000)}
          end,
    {T, S} = gs_test_lib:same(Fun),
    ?assertEqual({{error, ebadf}, {tcp_closed, sock}, {error, closed},
                  {error, closed}}, T),
    ?assertEqual(T, S),
    ok = file:delete(F).

%% The peer closed before: the file cannot all go.
peer_gone() ->
    {F, _} = tmp_file("peer_gone", ?BIG),
    Fun = fun(Mod) ->
                  {_L, C, S} = gs_test_lib:pair(Mod, [binary, {active, false}]),
                  ok = Mod:close(C),
                  R = file:sendfile(F, S),
                  {R, Mod:send(S, <<"x">>), Mod:recv(S, 0, 1000),
                   Mod:recv(S, 0, 1000)}
          end,
    {T, S} = gs_test_lib:same(Fun),
    ?assertEqual({{error, closed}, {error, enotconn}, {error, closed},
                  {error, enotconn}}, T),
    ?assertEqual(T, S),
    ok = file:delete(F).

%% Another process closes the socket while its owner (trapping exits) is
%% in sendfile and nobody reads: the owner learns closed through the
%% port's exit, as with inet_drv.
closed_by_other_process() ->
    {F, _} = tmp_file("closed_other", ?BIG),
    Fun = fun(Mod) ->
                  process_flag(trap_exit, true),
                  {_L, _C, S} = gs_test_lib:pair(Mod, [binary,
                                                       {active, false}]),
                  Owner = self(),
                  Closer = spawn_link(
                             fun() ->
                                     receive go -> ok end,
                                     wait_pending(S),
                                     Owner ! {closed, Mod:close(S)}
                             end),
                  Closer ! go,
                  R = file:sendfile(F, S),
                  Rest = receive {closed, _} = CM -> CM after 5000 -> none end,
                  {R, Rest, [M || {'EXIT', P, _} = M <- gs_test_lib:flush(),
                                  P =/= Closer]}
          end,
    {T, S} = gs_test_lib:same(Fun),
    ?assertEqual({{error, closed}, {closed, ok}, []}, T),
    ?assertEqual(T, S),
    ok = file:delete(F).

%% Until the owner is suspended in sendfile's receive.
wait_pending(S) ->
    {connected, Owner} = erlang:port_info(S, connected),
    true = gs_test_lib:wait_until(
             fun() ->
                     erlang:process_info(Owner, status) =:= {status, waiting}
             end, 250).

%% On an active socket the file goes, and data from the peer still
%% arrives as messages.
active_socket() ->
    {F, Data} = tmp_file("active", 300000),
    Fun = fun(Mod) ->
                  {_L, C, S} = gs_test_lib:pair(Mod, [binary, {active, true}],
                                                [binary, {active, false}]),
                  ok = Mod:send(C, <<"ping">>),
                  slow_reader(Mod, C, 300000),
                  R = file:sendfile(F, S),
                  Msg = receive {tcp, _, _} = M -> M after 5000 -> none end,
                  {R, Msg, read_result() =:= Data}
          end,
    {T, S} = gs_test_lib:same(Fun),
    ?assertEqual({{ok, 300000}, {tcp, sock, <<"ping">>}, true}, T),
    ?assertEqual(T, S),
    ok = file:delete(F).

%% gen_socket:sendfile/2,5 have file:sendfile's contract.
api_functions() ->
    {F, Data} = tmp_file("api", 50000),
    {_L, C, S} = gs_test_lib:pair(gen_socket, [binary, {active, false}]),
    ?assertEqual({ok, 50000}, gen_socket:sendfile(F, S)),
    {ok, Fd} = file:open(F, [read, raw, binary]),
    ?assertEqual({ok, 100}, gen_socket:sendfile(Fd, S, 7, 100, [])),
    ?assertEqual({error, einval}, gen_socket:sendfile(Fd, S, -7, 100, [])),
    ?assertEqual({error, enoent}, gen_socket:sendfile("/nonexistent/x", S)),
    ok = file:close(Fd),
    Expected = <<Data/binary, (binary:part(Data, 7, 100))/binary>>,
    ?assertEqual(Expected, gs_test_lib:recv_exact(gen_socket, C, 50100)),
    ok = file:delete(F).

%% The driver's dup of the file's fd goes when the file is sent, fails or
%% the socket closes under it.
no_fd_leak() ->
    {F, _} = tmp_file("leak", 200000),
    {F2, _} = tmp_file("leak2", ?BIG),
    Before = gs_test_lib:fd_count(),
    [begin
         {L, C, S} = gs_test_lib:pair(gen_socket, [binary, {active, false}]),
         {ok, 200000} = file:sendfile(F, S),
         {ok, Fd} = file:open(F, [append, raw, binary]),
         {error, ebadf} = file:sendfile(Fd, S, 0, 10, []),
         ok = file:close(Fd),
         {L2, C2, S2} = gs_test_lib:pair(gen_socket, [binary,
                                                      {active, false}]),
         Owner = self(),
         Pid = spawn(fun() ->
                             receive go -> ok end,
                             Owner ! {done, file:sendfile(F2, S2)}
                     end),
         ok = gen_socket:controlling_process(S2, Pid),
         Pid ! go,
         wait_sending(S2, Pid),
         exit(Pid, kill),
         [gen_socket:close(X) || X <- [L, C, S, L2, C2, S2]]
     end || _ <- lists:seq(1, 5)],
    ?assert(gs_test_lib:wait_until(
              fun() -> gs_test_lib:fd_count() =< Before end, 100)),
    ok = file:delete(F),
    ok = file:delete(F2).

wait_sending(_S, Pid) ->
    true = gs_test_lib:wait_until(
             fun() ->
                     erlang:process_info(Pid, status) =:= {status, waiting}
             end, 250).
