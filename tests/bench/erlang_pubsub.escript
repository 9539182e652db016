#!/usr/bin/env escript
%% erlang_pubsub.escript — the Erlang side of the cross-node publish
%% benchmark: three Erlang/OTP nodes (A, B, C) on 127.0.0.1 over TLS
%% distribution (-proto_dist inet_tls, mutual verification against
%% bench_link's CA, as erlang_link.escript sets it up), one scheduler each
%% (+S 1). Each node starts the default OTP `pg` scope and 100 subscriber
%% processes that join one group (300 members). One publisher on A takes
%% pg:get_members/1 once, then per publish sends a 64 B binary to every
%% member ([Pid ! Msg || Pid <- Members]), the usual pg fan-out.
%%
%% Flow control: a credit window of 200 publishes. Each subscriber tells its
%% node's aggregator (a local message) each time it has received another 50;
%% when all 100 subscribers of a node have, the aggregator sends one ack to
%% the publisher, which never has more than 200 publishes not acked by all
%% three nodes (at most 20,000 unprocessed messages per link, erlang_link's
%% credit). So the rate is sustained delivery, not queue growth.
%%
%% Prints one JSON object per figure and line ("runtime":"erlang"):
%%   erlang_pg_fanout_64  deliveries/s across the cluster (publishes x 300),
%%                        timed from the first send of a run to the last
%%                        round's ack from every node; the median of 3 runs
%%                        of 20,000 publishes (1 of 2,000 with --quick) after
%%                        a warm-up; with each node's CPU seconds
%%   erlang_pg_frames_per_link_per_publish  distribution messages node A
%%                        put on each link (A->B, A->C) per publish during
%%                        the run, from the dist entry's output counter
%%                        (erlang:dist_get_stat/1); 100 = one per remote
%%                        member, with the sends the member list implies
%%
%% Usage: escript tests/bench/erlang_pubsub.escript CERTDIR [--quick]
%%   CERTDIR  ca.pem, node-a.pem/.key, node-b.pem/.key made by
%%            `bench_link --write-certs CERTDIR` (node C uses node-b's)
%% The nodes are separate `erl` processes (-sname NAME@localhost) using an
%% epmd this script starts on a free port on 127.0.0.1 (ERL_EPMD_PORT,
%% -start_epmd false) and kills at the end, as it kills any node still
%% running; their code is erlang_pubsub_node.erl beside this script,
%% compiled into a temporary directory. Every wait is bounded. Exit status
%% 0 when node A ran all its figures, 1 when something could not run, 2 for
%% bad usage.
-mode(compile).

-define(READY_MS, 30000).

main(Args) ->
    Opts = parse(Args, #{quick => false, certs => undefined}),
    maps:get(certs, Opts) =:= undefined andalso usage("(no CERTDIR)"),
    Tmp = string:trim(os:cmd("mktemp -d /tmp/erlang_pubsub.XXXXXX")),
    Status = try run(Opts, Tmp)
             catch throw:{fail, What} ->
                     io:format("{\"name\":\"erlang_pg_fanout_64\","
                               "\"runtime\":\"erlang\",\"error\":\"~s\"}~n",
                               [What]),
                     1
             after
                 cleanup(),
                 file:del_dir_r(Tmp)
             end,
    halt(Status).

parse([], O) -> O;
parse(["--quick" | T], O) -> parse(T, O#{quick => true});
parse(["-" ++ _ = A | _], _) -> usage(A);
parse([D | T], #{certs := undefined} = O) -> parse(T, O#{certs => D});
parse([A | _], _) -> usage(A).

usage(A) ->
    io:format(standard_error, "bad argument ~s~nusage: erlang_pubsub.escript "
              "CERTDIR [--quick]~n", [A]),
    halt(2).

here() -> filename:dirname(filename:absname(escript:script_name())).

run(Opts, Tmp) ->
    Certs = maps:get(certs, Opts),
    [filelib:is_regular(filename:join(Certs, F)) orelse
         throw({fail, "missing " ++ F ++ " in " ++ Certs})
     || F <- ["ca.pem", "node-a.pem", "node-a.key", "node-b.pem",
              "node-b.key"]],
    Src = filename:join(here(), "erlang_pubsub_node.erl"),
    case compile:file(Src, [{outdir, Tmp}, report_errors]) of
        {ok, _} -> ok;
        _ -> throw({fail, "could not compile erlang_pubsub_node.erl"})
    end,
    Erl = find("erl"),
    EpmdPort = start_epmd(find("epmd")),
    Id = os:getpid(),
    [A, B, C] = [N ++ "_" ++ Id || N <- ["ps_a", "ps_b", "ps_c"]],
    Full = fun(N) -> N ++ "@localhost" end,
    Cookie = "pubsub" ++ integer_to_list(erlang:unique_integer([positive])),
    ConfA = optfile(Tmp, Certs, "node-a"),
    ConfB = optfile(Tmp, Certs, "node-b"),
    Limit = case maps:get(quick, Opts) of true -> 180; false -> 900 end,
    Env = [{"ERL_EPMD_PORT", integer_to_list(EpmdPort)},
           {"ERL_EPMD_ADDRESS", "127.0.0.1"}],
    Common = fun(Name, Conf) ->
                 ["-noshell", "-noinput", "+S", "1", "-start_epmd", "false",
                  "-sname", Full(Name), "-setcookie", Cookie,
                  "-proto_dist", "inet_tls", "-ssl_dist_optfile", Conf,
                  "-kernel", "inet_dist_use_interface", "{127,0,0,1}",
                  "-pa", Tmp]
             end,
    Serve = fun(Name) ->
                Port = start(Erl, Env, Common(Name, ConfB) ++
                                 ["-run", "erlang_pubsub_node", "serve",
                                  Full(A), integer_to_list(Limit)]),
                Ready = erlang:monotonic_time(millisecond) + ?READY_MS,
                case wait_ready(Port, Name, Ready) of
                    ok -> Port;
                    {error, Why} ->
                        throw({fail, "node " ++ Name ++ " did not start: " ++
                                   Why})
                end
            end,
    PortB = Serve(B),
    PortC = Serve(C),
    Quick = case maps:get(quick, Opts) of true -> "quick"; false -> "full" end,
    PortA = start(Erl, Env, Common(A, ConfA) ++
                      ["-run", "erlang_pubsub_node", "run", Full(B), Full(C),
                       Quick]),
    StatusA = relay(PortA, erlang:monotonic_time(millisecond) + Limit * 1000),
    %% B and C halt when A goes down; wait a little, then kill them.
    [case wait_exit(P, erlang:monotonic_time(millisecond) + 5000) of
         timeout -> io:format(standard_error, "node ~s killed~n", [N]);
         _ -> ok
     end || {P, N} <- [{PortB, B}, {PortC, C}]],
    case StatusA of
        0 -> 0;
        S -> io:format("{\"name\":\"erlang_pg_fanout_64\",\"runtime\":"
                       "\"erlang\",\"error\":\"node A exited with ~p\"}~n",
                       [S]),
             1
    end.

find(Exe) ->
    case os:find_executable(Exe) of
        false -> throw({fail, Exe ++ " not found"});
        E -> E
    end.

%% A private epmd on a free loopback port, so that nothing is shared with
%% other benchmarks or left registered.
start_epmd(Epmd) ->
    {ok, L} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}, {reuseaddr, true}]),
    {ok, P} = inet:port(L),
    gen_tcp:close(L),
    Port = open_port({spawn_executable, Epmd},
                     [{args, ["-port", integer_to_list(P),
                              "-address", "127.0.0.1"]},
                      exit_status, stderr_to_stdout, {line, 1024}]),
    track(Port),
    wait_epmd(P, erlang:monotonic_time(millisecond) + 10000),
    P.

wait_epmd(P, Deadline) ->
    case gen_tcp:connect({127, 0, 0, 1}, P, [], 500) of
        {ok, S} -> gen_tcp:close(S);
        _ ->
            left(Deadline) > 0 orelse throw({fail, "epmd did not start"}),
            timer:sleep(50),
            wait_epmd(P, Deadline)
    end.

%% Both sides present their certificate and verify the other's against the
%% cluster CA, as troupe's links do.
optfile(Tmp, Certs, Name) ->
    F = fun(File) -> filename:join(filename:absname(Certs), File) end,
    Side = [{certfile, F(Name ++ ".pem")}, {keyfile, F(Name ++ ".key")},
            {cacertfile, F("ca.pem")}, {verify, verify_peer},
            {secure_renegotiate, true}],
    Terms = [{server, [{fail_if_no_peer_cert, true} | Side]}, {client, Side}],
    Path = filename:join(Tmp, Name ++ ".conf"),
    ok = file:write_file(Path, io_lib:format("~p.~n", [Terms])),
    Path.

start(Erl, Env, Args) ->
    Port = open_port({spawn_executable, Erl},
                     [{args, Args}, {env, Env}, exit_status, stderr_to_stdout,
                      {line, 65536}]),
    track(Port),
    Port.

%% Every OS process started here, to kill whatever is left at the end.
track(Port) ->
    {os_pid, P} = erlang:port_info(Port, os_pid),
    put(os_pids, [P | case get(os_pids) of undefined -> []; L -> L end]).

cleanup() ->
    [os:cmd("kill -9 " ++ integer_to_list(P) ++ " 2>/dev/null")
     || P <- case get(os_pids) of undefined -> []; L -> L end],
    ok.

left(Deadline) -> max(0, Deadline - erlang:monotonic_time(millisecond)).

wait_ready(Port, Name, Deadline) ->
    receive
        {Port, {data, {eol, "ready " ++ _}}} -> ok;
        {Port, {data, {_, Line}}} ->
            io:format(standard_error, "node ~s: ~s~n", [Name, Line]),
            wait_ready(Port, Name, Deadline);
        {Port, {exit_status, S}} -> {error, io_lib:format("exit ~p", [S])}
    after left(Deadline) ->
        {error, "timeout"}
    end.

%% Prints node A's JSON lines as they come (anything else to stderr); its
%% exit status, or kills it at the deadline.
relay(Port, Deadline) ->
    receive
        {Port, {data, {eol, "{" ++ _ = Line}}} ->
            io:format("~s~n", [Line]),
            relay(Port, Deadline);
        {Port, {data, {_, Line}}} ->
            io:format(standard_error, "node A: ~s~n", [Line]),
            relay(Port, Deadline);
        {Port, {exit_status, S}} -> S
    after left(Deadline) ->
        kill(Port),
        timeout
    end.

wait_exit(Port, Deadline) ->
    receive
        {Port, {data, _}} -> wait_exit(Port, Deadline);
        {Port, {exit_status, S}} -> S
    after left(Deadline) ->
        kill(Port),
        timeout
    end.

kill(Port) ->
    case erlang:port_info(Port, os_pid) of
        {os_pid, P} -> os:cmd("kill -9 " ++ integer_to_list(P));
        _ -> ok
    end.
