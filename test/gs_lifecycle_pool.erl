%% A ranch-like acceptor pool for gen_socket_lifecycle_tests: an
%% application, started before gen_socket (so stopped after it), whose
%% listener supervisor listens in its init and, like ranch_acceptors_sup,
%% gives up at the first acceptor crash; its parent then restarts it, and
%% it listens again.  When gen_socket stops first, the acceptors' accept
%% fails and the listener listens again while the node is stopping.
%% A witness records those listens; the application's prep_stop waits for
%% the first one, so that it happens while the node is stopping (before
%% the pool itself is stopped), deterministically.
-module(gs_lifecycle_pool).
-behaviour(application).
-behaviour(supervisor).

-export([start_app/0, start_listener/1]).
-export([start/2, prep_stop/1, stop/1, init/1, start_acceptor/2, acceptor/2,
         start_listener_sup/1, witness/2]).

start_app() ->
    ok = application:load({application, gs_lifecycle_pool,
                           [{description, "test acceptor pool"}, {vsn, "1"},
                            {modules, [?MODULE]}, {registered, []},
                            {applications, [kernel, stdlib]},
                            {mod, {?MODULE, []}}]}),
    register(gs_lifecycle_witness, spawn(?MODULE, witness, [[], []])),
    application:start(gs_lifecycle_pool).

%% N acceptors on a new gen_socket listen socket; {ok, Port}.
start_listener(N) ->
    {ok, _} = supervisor:start_child(gs_lifecycle_pool_sup,
                                     #{id => listener,
                                       start => {?MODULE, start_listener_sup, [N]},
                                       type => supervisor}),
    gs_lifecycle_witness ! {port, self()},
    receive {port, Port} -> {ok, Port} end.

start(_, _) ->
    supervisor:start_link({local, gs_lifecycle_pool_sup}, ?MODULE, top).

%% Stopped after gen_socket: wait (bounded) until the listener has tried
%% to listen again, so that attempt is made while the node stops.
prep_stop(State) ->
    gs_lifecycle_witness ! {wait_relisten, self()},
    receive relistened -> ok after 5000 -> say(no_relisten) end,
    State.

stop(_) ->
    ok.

start_listener_sup(N) ->
    supervisor:start_link(?MODULE, {listener, N}).

init(top) ->
    {ok, {#{strategy => one_for_one, intensity => 10, period => 1}, []}};
init({listener, N}) ->
    R = gen_socket:listen(0, [binary, {active, false}, {reuseaddr, true}]),
    case init:get_status() of
        {stopping, _} ->
            say({listen_while_stopping, R}),
            gs_lifecycle_witness ! relisten;
        _ ->
            ok
    end,
    case R of
        {ok, L} ->
            {ok, Port} = inet:port(L),
            gs_lifecycle_witness ! {listening, Port},
            {ok, {#{strategy => one_for_one, intensity => 0, period => 1},
                  [#{id => I, start => {?MODULE, start_acceptor, [L, I]}}
                   || I <- lists:seq(1, N)]}};
        {error, Reason} ->
            {stop, Reason}
    end.

start_acceptor(L, I) ->
    {ok, proc_lib:spawn_link(?MODULE, acceptor, [L, I])}.

acceptor(L, I) ->
    case gen_socket:accept(L) of
        {ok, S} ->
            case gen_socket:recv(S, 0, 5000) of
                {ok, D} -> gen_socket:send(S, D);
                _ -> ok
            end,
            gen_socket:close(S),
            acceptor(L, I);
        {error, Reason} ->
            exit({accept, Reason})
    end.

%% One whole line on the node's output, written by the user io server,
%% which also writes the logger's reports: erlang:display/1 writes to
%% fd 1 itself, one byte per write(2), so a report written meanwhile
%% could split its line (seen: "{l=SUPERVISOR REPORT...") and the test
%% would not find it.  ~w: never broken over lines.
say(Term) ->
    io:format(user, "~w~n", [Term]).

%% Remembers the listening port and whether a listen happened during the
%% stop; answers whoever asks.
witness(Ports, Relistens) ->
    receive
        {listening, Port} -> witness([Port | Ports], Relistens);
        relisten -> tell(Relistens), witness(Ports, done);
        {port, From} when Ports =/= [] -> From ! {port, hd(Ports)}, witness(Ports, Relistens);
        {wait_relisten, From} when Relistens =:= done -> From ! relistened, witness(Ports, done);
        {wait_relisten, From} -> witness(Ports, [From | Relistens])
    end.

tell(done) -> ok;
tell(Waiters) -> [W ! relistened || W <- Waiters], ok.
