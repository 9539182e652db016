%% erlang_link_node.erl — the two Erlang nodes of erlang_link.escript, the
%% Erlang counterpart of bench_link: distribution over TLS (inet_tls) between
%% two nodes on 127.0.0.1, one scheduler each. The escript compiles this
%% module into a temporary directory and starts both nodes with it.
%%
%%   serve(Timeout)  node B: registers `sink` (counts binaries, acks every K,
%%                   reports when it has N) and `echo` (sends back what it
%%                   gets); halts on `stop`, when node A goes down, or after
%%                   Timeout seconds.
%%   run(Peer, Quick, Only)  node A: runs the figures against Peer, prints one
%%                   JSON object per line, tells B to stop and halts.
-module(erlang_link_node).
-export([serve/1, run/1]).

-define(ACK_EVERY, 10000).   % the receiver acks every this many messages
-define(WINDOW, 20000).      % the sender's credit: unacked messages at most
-define(WAIT_MS, 60000).     % the longest any single wait may take

%% ---- node B ---------------------------------------------------------------

serve([TimeoutS]) ->
    Timeout = list_to_integer(TimeoutS) * 1000,
    register(sink, spawn(fun sink_idle/0)),
    register(echo, spawn(fun echo/0)),
    ok = net_kernel:monitor_nodes(true),
    io:format("ready ~s~n", [os:getpid()]),
    serve_wait(Timeout, false).

serve_wait(Timeout, Seen) ->
    receive
        {nodeup, _} -> serve_wait(Timeout, true);
        {nodedown, _} when Seen -> halt(0);
        {nodedown, _} -> serve_wait(Timeout, Seen)
    after Timeout ->
        halt(3)
    end.

sink_idle() ->
    receive
        {start, From, N, K} ->
            sink_count(N, K, K, From, cpu_s()),
            sink_idle();
        stop ->
            halt(0);
        _ ->
            sink_idle()
    end.

%% Left: still to come; UntilAck: before the next ack.
sink_count(0, _, _, From, Cpu0) ->
    From ! {done, cpu_s() - Cpu0};
sink_count(Left, 1, K, From, Cpu0) ->
    receive
        B when is_binary(B) ->
            Left > 1 andalso (From ! ack),
            sink_count(Left - 1, K, K, From, Cpu0)
    after ?WAIT_MS -> exit(sink_timeout)
    end;
sink_count(Left, UntilAck, K, From, Cpu0) ->
    receive
        B when is_binary(B) -> sink_count(Left - 1, UntilAck - 1, K, From, Cpu0)
    after ?WAIT_MS -> exit(sink_timeout)
    end.

echo() ->
    receive
        {From, B} -> From ! B, echo();
        stop -> ok
    end.

%% ---- node A ---------------------------------------------------------------

run([PeerS, QuickS, OnlyS]) ->
    Peer = list_to_atom(PeerS),
    Quick = QuickS =:= "quick",
    Sel = case OnlyS of
              "all" -> fun(_) -> true end;
              L -> Only = string:tokens(L, ","),
                   fun(F) -> lists:member(F, Only) end
          end,
    Status = try
                 connect(Peer),
                 C = fun(Q, _) when Quick -> Q;
                        (_, Full) -> Full
                     end,
                 Sel("rtt") andalso rtt(Peer, C(2000, 20000)),
                 Reps = C(1, 3),
                 Sel("oneway64") andalso
                     oneway(Peer, "link_oneway_64", 64, C(100000, 2000000),
                            Reps),
                 Sel("oneway4k") andalso
                     oneway(Peer, "link_oneway_4k", 4096, C(10000, 100000),
                            Reps),
                 %% bench_remote --mode windowed's pattern: 2,000 unacked
                 %% at most, an ack every 1,000.
                 Sel("windowed64") andalso
                     oneway(Peer, "remote_windowed_64", 64,
                            C(100000, 2000000), Reps, 2000, 1000),
                 0
             catch
                 throw:{error, Fig, What} ->
                     error_line(Fig, What),
                     1;
                 Class:Reason ->
                     error_line("erlang",
                                io_lib:format("~p:~p", [Class, Reason])),
                     1
             end,
    catch ({sink, Peer} ! stop),
    timer:sleep(100),
    halt(Status).

connect(Peer) ->
    case net_kernel:connect_node(Peer) of
        true -> ok;
        _ -> throw({error, "connect", "could not connect to the peer node"})
    end.

error_line(Fig, What) ->
    io:format("{\"name\":\"~s\",\"runtime\":\"erlang\",\"error\":\"~s\"}~n",
              [Fig, re:replace(lists:flatten(What), "[\"\\\\\n]", " ",
                               [global, {return, list}])]).

num(V) when is_integer(V) -> integer_to_list(V);
num(V) when abs(V) >= 1000 -> integer_to_list(round(V));
num(V) -> float_to_list(float(V), [{decimals, 4}, compact]).

val(V) when is_number(V) -> num(V);
val(V) -> io_lib:format("\"~s\"", [V]).

emit(Name, Value, Unit, Extra) ->
    Fields = [io_lib:format(",\"~s\":~s", [K, val(V)]) || {K, V} <- Extra],
    io:format("{\"name\":\"~s\",\"runtime\":\"erlang\",\"value\":~s,"
              "\"unit\":\"~s\"~s,\"schedulers\":~B,\"otp\":\"~s\","
              "\"proto_dist\":\"inet_tls\",\"processes\":2}~n",
              [Name, num(Value), Unit, Fields,
               erlang:system_info(schedulers_online),
               erlang:system_info(otp_release)]).

now_ns() -> erlang:monotonic_time(nanosecond).

%% ---- one-way --------------------------------------------------------------

%% The sender may have ?WINDOW messages unacked; the receiver acks every
%% ?ACK_EVERY. The time runs from the first send to the receiver's report
%% that the last message arrived (delivered, not queued).
oneway(Peer, Name, Size, N, Reps) ->
    oneway(Peer, Name, Size, N, Reps, ?WINDOW, ?ACK_EVERY).

oneway(Peer, Name, Size, N, Reps, Window, AckEvery) ->
    Bin = binary:copy(<<"x">>, Size),
    Warm = max(1, min(N div 10, 100000)),
    W = {Window, AckEvery},
    oneway_once(Peer, Name, Bin, Warm, W),
    %% The median of Reps runs by rate, as bench_link does.
    Runs = lists:sort([oneway_once(Peer, Name, Bin, N, W)
                       || _ <- lists:seq(1, Reps)]),
    {Secs, CpuA, CpuB, Busy} = lists:nth(Reps div 2 + 1, Runs),
    {MaxSecs, _, _, _} = lists:last(Runs),
    {MinSecs, _, _, _} = hd(Runs),
    Rate = N / Secs,
    Others = case Busy of
                 undefined -> -1;
                 _ -> max(0.0, (Busy - CpuA - CpuB) / Secs)
             end,
    Common = [{payload, Size}, {envelopes, N}, {seconds, Secs},
              {window, Window}, {ack_every, AckEvery},
              {others_cores, Others}, {reps, Reps}, {min, N / MaxSecs},
              {max, N / MinSecs}],
    emit(Name, Rate, "envelopes/s", Common),
    Size > 64 andalso
        emit(Name ++ "_mbps", Rate * Size / 1.0e6, "MB/s",
             [{payload, Size}, {envelopes, N}, {mb, "10^6 payload bytes"}]),
    Prefix = case {Name, Size} of
                 {"remote_windowed_64", _} -> "remote_windowed_64_cpu";
                 {_, 64} -> "link_cpu_64";
                 _ -> "link_cpu_4k"
             end,
    PerM = 1.0e6 / N,
    Cpu = [{envelopes, N}, {wall_s, Secs}],
    emit(Prefix ++ "_sender", CpuA * PerM, "cpu_s/M envelopes",
         [{cpu_s, CpuA} | Cpu]),
    emit(Prefix ++ "_receiver", CpuB * PerM, "cpu_s/M envelopes",
         [{cpu_s, CpuB} | Cpu]),
    emit(Prefix ++ "_total", (CpuA + CpuB) * PerM, "cpu_s/M envelopes",
         [{cpu_s, CpuA + CpuB} | Cpu]).

oneway_once(Peer, Name, Bin, N, W) ->
    Self = self(),
    Ref = make_ref(),
    %% A fresh process per run: no heap or mailbox carries over.
    spawn_link(fun() ->
                   Self ! {Ref, catch oneway_body(Peer, Name, Bin, N, W)}
               end),
    receive
        {Ref, {error, _, _} = E} -> throw(E);
        {Ref, R} -> R
    after 10 * ?WAIT_MS -> throw({error, Name, "one-way run timed out"})
    end.

oneway_body(Peer, Name, Bin, N, {Window, AckEvery}) ->
    Sink = {sink, Peer},
    Sink ! {start, self(), N, AckEvery},
    Busy0 = machine_busy_s(),
    Cpu0 = cpu_s(),
    T0 = now_ns(),
    put(ack_every, AckEvery),
    ow_send(Sink, Bin, N, Window, Name),
    CpuB = receive {done, C} -> C
           after ?WAIT_MS -> throw({error, Name, "no report from the receiver"})
           end,
    T1 = now_ns(),
    Cpu1 = cpu_s(),
    Busy = case {Busy0, machine_busy_s()} of
               {undefined, _} -> undefined;
               {_, undefined} -> undefined;
               {B0, B1} -> B1 - B0
           end,
    {(T1 - T0) / 1.0e9, Cpu1 - Cpu0, CpuB, Busy}.

%% CPU seconds of this OS process, user and system, from /proc/self/stat
%% (statistics(runtime) leaves out the kernel's share, which for TCP on
%% loopback is large); statistics(runtime) where /proc is missing.
cpu_s() ->
    case file:read_file("/proc/self/stat") of
        {ok, B} ->
            [_, After] = string:split(binary_to_list(B), ")", trailing),
            Fields = string:lexemes(After, " "),
            Utime = list_to_integer(lists:nth(12, Fields)),
            Stime = list_to_integer(lists:nth(13, Fields)),
            (Utime + Stime) / 100;
        _ ->
            {Ms, _} = statistics(runtime),
            Ms / 1000
    end.

%% CPU seconds the whole machine spent busy so far (/proc/stat, 100 ticks a
%% second), to tell how much of it other processes took during a run.
machine_busy_s() ->
    case file:read_file("/proc/stat") of
        {ok, B} ->
            [Line | _] = binary:split(B, <<"\n">>),
            case string:lexemes(binary_to_list(Line), " ") of
                ["cpu", U, Ni, Sy, _Idle, _Io, Irq, SIrq, St | _] ->
                    lists:sum([list_to_integer(V)
                               || V <- [U, Ni, Sy, Irq, SIrq, St]]) / 100;
                _ -> undefined
            end;
        _ -> undefined
    end.

ow_send(_, _, 0, _, _) -> ok;
ow_send(To, Bin, N, 0, Name) ->
    receive ack -> ow_send(To, Bin, N, get(ack_every), Name)
    after ?WAIT_MS -> throw({error, Name, "no ack from the receiver"})
    end;
ow_send(To, Bin, N, Credit, Name) ->
    To ! Bin,
    ow_send(To, Bin, N - 1, Credit - 1, Name).

%% ---- round trip -----------------------------------------------------------

rtt(Peer, N) ->
    Bin = binary:copy(<<"r">>, 64),
    Echo = {echo, Peer},
    Warm = N div 20 + 10,
    rtt_loop(Echo, Bin, Warm, []),
    Samples = lists:sort(rtt_loop(Echo, Bin, N, [])),
    Len = length(Samples),
    T = list_to_tuple(Samples),
    P50 = element(Len div 2 + 1, T) / 1000,
    P99 = element(min(Len, trunc(Len * 0.99) + 1), T) / 1000,
    Extra = [{payload, 64}, {samples, N}, {min, element(1, T) / 1000},
             {mean, lists:sum(Samples) / Len / 1000},
             {max, element(Len, T) / 1000}],
    emit("link_rtt_64_p50", P50, "us", Extra),
    emit("link_rtt_64_p99", P99, "us", Extra).

rtt_loop(_, _, 0, Acc) -> Acc;
rtt_loop(Echo, Bin, N, Acc) ->
    T0 = now_ns(),
    Echo ! {self(), Bin},
    receive
        B when is_binary(B) -> rtt_loop(Echo, Bin, N - 1, [now_ns() - T0 | Acc])
    after ?WAIT_MS -> throw({error, "link_rtt_64", "no echo"})
    end.
