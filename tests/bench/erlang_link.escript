#!/usr/bin/env escript
%% erlang_link.escript — the Erlang counterpart of bench_link: Erlang/OTP
%% distribution over TLS (-proto_dist inet_tls, mutual verification against
%% bench_link's CA) between two nodes on 127.0.0.1, each with one scheduler
%% (+S 1). Prints one JSON object per figure and line, each with
%% "runtime":"erlang" and the same names as bench_link:
%%
%%   link_oneway_64       msgs/s, 64 B binaries sent to a registered process
%%                        on the other node; credit flow (window 20,000, the
%%                        receiver acks every 10,000); timed until the
%%                        receiver reports the last one arrived; the
%%                        median of 3 runs (1 with --quick) after a warm-up
%%   link_oneway_4k       msgs/s, the same with 4 KiB binaries, and
%%   link_oneway_4k_mbps  as payload MB/s (10^6 bytes)
%%   link_cpu_64_*, link_cpu_4k_*  CPU seconds per million messages: user
%%                        and system time of each node's OS process
%%                        (/proc/self/stat), as bench_link's getrusage
%%   link_rtt_64_p50/p99  µs, one 64 B message in flight, echoed
%%
%%   remote_windowed_64   msgs/s, 64 B to the registered process with a
%%                        window of 2,000 and an ack every 1,000: the
%%                        pattern of bench_remote --mode windowed (with
%%                        remote_windowed_64_cpu_* lines)
%%
%% Usage: erlang_link.escript [--quick]
%%                            [--only rtt,oneway64,oneway4k,windowed64]
%%                            [--certs DIR | --bench-link PATH]
%%   --certs DIR        ca.pem, node-a.pem/.key, node-b.pem/.key made by
%%                      `bench_link --write-certs DIR`
%%   --bench-link PATH  runs PATH --write-certs into a temporary directory
%%                      (default: $BENCH_LINK, else build/tests/bench/bench_link
%%                      under the repository root)
%% The nodes are separate `erl` processes (-sname NAME@localhost, epmd bound
%% to 127.0.0.1 through ERL_EPMD_ADDRESS when this starts it); their code is
%% erlang_link_node.erl beside this script, compiled into the temporary
%% directory. Every wait is bounded. Exit status 0 when node A ran all its
%% figures, 1 when something could not run, 2 for bad usage.
-mode(compile).

-define(READY_MS, 30000).

main(Args) ->
    Opts = parse(Args, #{quick => false, only => "all", certs => undefined,
                         bench_link => undefined}),
    Tmp = string:trim(os:cmd("mktemp -d /tmp/erlang_link.XXXXXX")),
    Status = try run(Opts, Tmp)
             catch throw:{fail, What} ->
                     io:format("{\"name\":\"erlang\",\"runtime\":\"erlang\","
                               "\"error\":\"~s\"}~n", [What]),
                     1
             after
                 file:del_dir_r(Tmp)
             end,
    halt(Status).

parse([], O) -> O;
parse(["--quick" | T], O) -> parse(T, O#{quick => true});
parse(["--only", L | T], O) ->
    Known = ["rtt", "oneway64", "oneway4k", "windowed64"],
    case string:tokens(L, ",") -- Known of
        [] -> parse(T, O#{only => L});
        [Bad | _] -> usage(Bad)
    end;
parse(["--certs", D | T], O) -> parse(T, O#{certs => D});
parse(["--bench-link", P | T], O) -> parse(T, O#{bench_link => P});
parse([A | _], _) -> usage(A).

usage(A) ->
    io:format(standard_error, "unknown argument ~s~nusage: erlang_link.escript "
              "[--quick] [--only rtt,oneway64,oneway4k,windowed64] "
              "[--certs DIR | --bench-link PATH]~n", [A]),
    halt(2).

here() -> filename:dirname(filename:absname(escript:script_name())).

run(Opts, Tmp) ->
    Certs = certs(Opts, Tmp),
    Src = filename:join(here(), "erlang_link_node.erl"),
    case compile:file(Src, [{outdir, Tmp}, report_errors]) of
        {ok, _} -> ok;
        _ -> throw({fail, "could not compile erlang_link_node.erl"})
    end,
    Erl = case os:find_executable("erl") of
              false -> throw({fail, "erl not found"});
              E -> E
          end,
    Id = os:getpid(),
    A = "lb_a_" ++ Id, B = "lb_b_" ++ Id,
    Peer = B ++ "@localhost",
    Cookie = "linkbench" ++ integer_to_list(erlang:unique_integer([positive])),
    ConfA = optfile(Tmp, Certs, "node-a"),
    ConfB = optfile(Tmp, Certs, "node-b"),
    Limit = case maps:get(quick, Opts) of true -> 180; false -> 900 end,
    Common = fun(Name, Conf) ->
                 ["-noshell", "-noinput", "+S", "1",
                  "-sname", Name ++ "@localhost", "-setcookie", Cookie,
                  "-proto_dist", "inet_tls", "-ssl_dist_optfile", Conf,
                  "-kernel", "inet_dist_use_interface", "{127,0,0,1}",
                  "-pa", Tmp]
             end,
    PortB = start(Erl, Common(B, ConfB) ++ ["-run", "erlang_link_node", "serve",
                                            integer_to_list(Limit)]),
    Ready = erlang:monotonic_time(millisecond) + ?READY_MS,
    PidB = case wait_ready(PortB, Ready) of
               {ok, P} -> P;
               {error, Why} -> throw({fail, "node B did not start: " ++ Why})
           end,
    Quick = case maps:get(quick, Opts) of true -> "quick"; false -> "full" end,
    PortA = start(Erl, Common(A, ConfA) ++
                      ["-run", "erlang_link_node", "run", Peer, Quick,
                       maps:get(only, Opts)]),
    StatusA = relay(PortA, erlang:monotonic_time(millisecond) + Limit * 1000),
    stop_b(PortB, PidB),
    case StatusA of
        0 -> 0;
        S -> io:format("{\"name\":\"erlang\",\"runtime\":\"erlang\","
                       "\"error\":\"node A exited with ~p\"}~n", [S]),
             1
    end.

%% The certificate directory: given, or made by bench_link --write-certs.
certs(#{certs := D}, _) when D =/= undefined -> D;
certs(#{bench_link := P0}, Tmp) ->
    P = case {P0, os:getenv("BENCH_LINK")} of
            {undefined, false} ->
                filename:join(here(), "../../build/tests/bench/bench_link");
            {undefined, Env} -> Env;
            _ -> P0
        end,
    filelib:is_regular(P) orelse
        throw({fail, "no bench_link at " ++ P ++ " (--bench-link PATH)"}),
    Dir = filename:join(Tmp, "certs"),
    ok = file:make_dir(Dir),
    Port = open_port({spawn_executable, P},
                     [{args, ["--write-certs", Dir]}, exit_status,
                      stderr_to_stdout, {line, 1024}]),
    case wait_exit(Port, erlang:monotonic_time(millisecond) + 30000) of
        0 -> Dir;
        _ -> throw({fail, "bench_link --write-certs failed (" ++ P ++ ")"})
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

start(Erl, Args) ->
    open_port({spawn_executable, Erl},
              [{args, Args}, {env, [{"ERL_EPMD_ADDRESS", "127.0.0.1"}]},
               exit_status, stderr_to_stdout, {line, 65536}]).

left(Deadline) -> max(0, Deadline - erlang:monotonic_time(millisecond)).

wait_ready(Port, Deadline) ->
    receive
        {Port, {data, {eol, "ready " ++ Pid}}} -> {ok, Pid};
        {Port, {data, {_, Line}}} ->
            io:format(standard_error, "node B: ~s~n", [Line]),
            wait_ready(Port, Deadline);
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

%% B halts when A goes down or is told to stop; wait a little, then kill it.
stop_b(Port, _Pid) ->
    case wait_exit(Port, erlang:monotonic_time(millisecond) + 5000) of
        timeout -> io:format(standard_error, "node B killed~n", []);
        _ -> ok
    end.
