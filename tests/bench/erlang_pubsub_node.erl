%% erlang_pubsub_node.erl — the three Erlang nodes of erlang_pubsub.escript:
%% a cross-node publish benchmark with OTP's `pg` over TLS distribution
%% (inet_tls), one scheduler per node. The escript compiles this module into
%% a temporary directory and starts the nodes with it.
%%
%% Every node starts the default `pg` scope, spawns ?SUBS subscriber
%% processes that join ?GROUP, and registers one aggregator `pubsub_agg`.
%%
%%   serve([PublisherNode, Timeout])  nodes B and C: set up, print "ready",
%%                   halt when PublisherNode goes down or after Timeout s.
%%   run([B, C, Quick])  node A: sets up, connects to B and C, waits until
%%                   the group has 3 * ?SUBS members, runs the figures,
%%                   prints one JSON object per line and halts.
%%
%% The publisher takes pg:get_members/1 once, then per publish does
%% [Pid ! Msg || Pid <- Members] with a 64 B binary: one distribution
%% message per remote member, so ?SUBS per link per publish.
%%
%% Flow control (a credit window counted in publishes): every subscriber
%% sends a local `{tick, Round}` to its node's aggregator each ?ACK_EVERY
%% messages it has *received*; when all ?SUBS subscribers of a node have
%% ticked round R the aggregator sends one `{ack, Node, R}` to the publisher
%% (one message per link per ?ACK_EVERY publishes). The publisher lets at
%% most ?WINDOW publishes be not yet acked by all three nodes, so each link
%% carries at most ?WINDOW * ?SUBS = 20,000 unprocessed messages, the same
%% credit as erlang_link's one-way figure. A run is timed from its first
%% send to the ack of its last round from every node: deliveries that
%% subscribers took out of their mailboxes, not queue growth.
-module(erlang_pubsub_node).
-export([serve/1, run/1, cpu_s/0]).

-define(SUBS, 100).          % subscribers per node
-define(NODES, 3).
-define(GROUP, pubsub_bench).
-define(PAYLOAD, 64).
-define(ACK_EVERY, 50).      % publishes (messages per subscriber) per round
-define(WINDOW, 200).        % publishes not yet acked by every node, at most
-define(WAIT_MS, 60000).     % the longest any single wait may take

%% ---- every node -----------------------------------------------------------

setup() ->
    {ok, _} = pg:start(pg),
    Agg = spawn(fun agg_idle/0),
    true = register(pubsub_agg, Agg),
    Subs = [spawn(fun() -> sub(Agg, ?ACK_EVERY, 0) end)
            || _ <- lists:seq(1, ?SUBS)],
    ok = pg:join(?GROUP, Subs),
    ok.

%% A subscriber: takes every binary out of its mailbox; each ?ACK_EVERY
%% of them it tells its node's aggregator which round it has finished.
sub(Agg, 1, R) ->
    receive
        B when is_binary(B) -> Agg ! {tick, R + 1}, sub(Agg, ?ACK_EVERY, R + 1);
        stop -> ok
    end;
sub(Agg, K, R) ->
    receive
        B when is_binary(B) -> sub(Agg, K - 1, R);
        stop -> ok
    end.

agg_idle() ->
    receive
        {hello, Pub} -> Pub ! {agg_ready, node()}, agg(Pub, #{});
        stop -> ok
    end.

%% Rounds complete in order: a subscriber ticks R before R + 1, so when all
%% have ticked R + 1 every tick of R has arrived already.
agg(Pub, Counts) ->
    receive
        {tick, R} ->
            case maps:get(R, Counts, 0) + 1 of
                ?SUBS -> Pub ! {ack, node(), R},
                         agg(Pub, maps:remove(R, Counts));
                C -> agg(Pub, Counts#{R => C})
            end;
        stop -> ok
    end.

%% ---- nodes B and C --------------------------------------------------------

serve([PubS, TimeoutS]) ->
    Pub = list_to_atom(PubS),
    Timeout = list_to_integer(TimeoutS) * 1000,
    ok = setup(),
    ok = net_kernel:monitor_nodes(true),
    io:format("ready ~s~n", [os:getpid()]),
    serve_wait(Pub, erlang:monotonic_time(millisecond) + Timeout).

serve_wait(Pub, Deadline) ->
    receive
        {nodedown, Pub} -> halt(0);
        _ -> serve_wait(Pub, Deadline)
    after max(0, Deadline - erlang:monotonic_time(millisecond)) ->
        halt(3)
    end.

%% ---- node A ---------------------------------------------------------------

run([BS, CS, QuickS]) ->
    Peers = [list_to_atom(BS), list_to_atom(CS)],
    Quick = QuickS =:= "quick",
    Status = try
                 bench(Peers, Quick),
                 0
             catch
                 throw:{error, Fig, What} ->
                     error_line(Fig, What),
                     1;
                 Class:Reason:St ->
                     error_line("erlang_pg_fanout_64",
                                io_lib:format("~p:~p ~p", [Class, Reason, St])),
                     1
             end,
    timer:sleep(100),
    halt(Status).

bench(Peers, Quick) ->
    [case net_kernel:connect_node(P) of
         true -> ok;
         _ -> throw({error, "connect", "could not connect to " ++
                                           atom_to_list(P)})
     end || P <- Peers],
    ok = setup(),
    Nodes = [node() | Peers],
    [{pubsub_agg, N} ! {hello, self()} || N <- Nodes],
    [receive {agg_ready, N} -> ok
     after ?WAIT_MS -> throw({error, "setup", "no aggregator on " ++
                                                  atom_to_list(N)})
     end || N <- Nodes],
    Members = wait_members(erlang:monotonic_time(millisecond) + ?WAIT_MS),
    PerNode = [{N, length([P || P <- Members, node(P) =:= N])} || N <- Nodes],
    [?SUBS = C || {_, C} <- PerNode],
    Msg = binary:copy(<<"p">>, ?PAYLOAD),
    C = fun(Q, _) when Quick -> Q;
           (_, Full) -> Full
        end,
    N = C(2000, 20000),           % publishes per run (a multiple of ?ACK_EVERY)
    Warm = C(500, 2000),
    Reps = C(1, 3),
    Acks0 = maps:from_list([{Nd, 0} || Nd <- Nodes]),
    %% Warm-up, then Reps timed runs; publish counts carry on across them.
    {_, P1, Acks1} = timed(Members, Msg, Peers, 0, Warm, Acks0),
    {Runs, _, _} =
        lists:foldl(fun(_, {Acc, P, A}) ->
                            {R, P2, A2} = timed(Members, Msg, Peers, P, N, A),
                            {[R | Acc], P2, A2}
                    end, {[], P1, Acks1}, lists:seq(1, Reps)),
    Sorted = lists:sort(fun(X, Y) -> element(1, X) =< element(1, Y) end, Runs),
    {Secs, Cpu, Out, Others} = lists:nth(Reps div 2 + 1, Sorted),
    {MinSecs, _, _, _} = hd(Sorted),
    {MaxSecs, _, _, _} = lists:last(Sorted),
    Deliveries = N * ?SUBS * ?NODES,
    [CpuA, CpuB, CpuC] = Cpu,
    emit("erlang_pg_fanout_64", Deliveries / Secs, "deliveries/s",
         [{subscribers, ?SUBS * ?NODES}, {nodes, ?NODES},
          {payload, ?PAYLOAD}, {publishes, N}, {warmup_publishes, Warm},
          {deliveries, Deliveries}, {seconds, Secs},
          {publishes_per_s, N / Secs}, {reps, Reps},
          {min, Deliveries / MaxSecs}, {max, Deliveries / MinSecs},
          {window_publishes, ?WINDOW}, {ack_every_publishes, ?ACK_EVERY},
          {flow, "per-node aggregator acks each round of ack_every "
                 "publishes once all its subscribers received them; "
                 "window_publishes unacked at most"},
          {cpu_s_a, CpuA}, {cpu_s_b, CpuB}, {cpu_s_c, CpuC},
          {cpu_s_per_m_deliveries, (CpuA + CpuB + CpuC) * 1.0e6 / Deliveries},
          {others_cores, Others}]),
    %% Distribution messages node A put on each link during the timed run
    %% (the dist entry's output counter, see dist_out/1), per publish; and
    %% the sends the publisher's member list implies.
    [{B, OutB}, {Cn, OutC}] = Out,
    PerB = OutB / N, PerC = OutC / N,
    emit("erlang_pg_frames_per_link_per_publish",
         round((PerB + PerC) / 2 * 100) / 100, "dist msgs/link/publish",
         [{a_to_b, PerB}, {a_to_c, PerC},
          {sends_per_publish_to_b, proplists:get_value(B, PerNode)},
          {sends_per_publish_to_c, proplists:get_value(Cn, PerNode)},
          {sends_per_publish_local, proplists:get_value(node(), PerNode)},
          {publishes, N}, {subscribers, ?SUBS * ?NODES}, {nodes, ?NODES},
          {source, "erlang:dist_get_stat out delta / publishes"}]),
    [catch ({pubsub_agg, Nd} ! stop) || Nd <- Nodes],
    ok.

wait_members(Deadline) ->
    M = pg:get_members(?GROUP),
    case length(M) of
        L when L =:= ?SUBS * ?NODES -> M;
        L ->
            erlang:monotonic_time(millisecond) < Deadline orelse
                throw({error, "setup", io_lib:format(
                                         "group has ~B members, not ~B",
                                         [L, ?SUBS * ?NODES])}),
            timer:sleep(20),
            wait_members(Deadline)
    end.

%% One timed run of N publishes after the P0 already done: from the first
%% send until every node acked the last round.
timed(Members, Msg, Peers, P0, N, Acks) ->
    0 = N rem ?ACK_EVERY,
    Busy0 = machine_busy_s(),
    Cpu0 = cpus(Peers),
    Out0 = [dist_out(Pe) || Pe <- Peers],
    T0 = erlang:monotonic_time(nanosecond),
    Target = P0 + N,
    Acks1 = publish(Members, Msg, P0, Target, Acks, min_acked(Acks)),
    Acks2 = wait_all(Target div ?ACK_EVERY, Acks1),
    T1 = erlang:monotonic_time(nanosecond),
    Out1 = [dist_out(Pe) || Pe <- Peers],
    Cpu1 = cpus(Peers),
    Busy1 = machine_busy_s(),
    Secs = (T1 - T0) / 1.0e9,
    Cpu = [B - A || {A, B} <- lists:zip(Cpu0, Cpu1)],
    %% Cores other processes of the machine kept busy meanwhile.
    Others = case {Busy0, Busy1} of
                 {B0, B1} when is_number(B0), is_number(B1) ->
                     max(0.0, (B1 - B0 - lists:sum(Cpu)) / Secs);
                 _ -> -1
             end,
    Out = [{Pe, O1 - O0} || {Pe, O0, O1} <- lists:zip3(Peers, Out0, Out1)],
    {{Secs, Cpu, Out, Others}, Target, Acks2}.

%% Acks: node => last round it acked; MinP: publishes acked by every node.
publish(_, _, P, Target, Acks, _) when P >= Target -> Acks;
publish(Members, Msg, P, Target, Acks, MinP) when P - MinP >= ?WINDOW ->
    Acks1 = drain(await_ack(Acks)),
    publish(Members, Msg, P, Target, Acks1, min_acked(Acks1));
publish(Members, Msg, P, Target, Acks, MinP) ->
    [Pid ! Msg || Pid <- Members],
    publish(Members, Msg, P + 1, Target, Acks, MinP).

min_acked(Acks) -> lists:min(maps:values(Acks)) * ?ACK_EVERY.

await_ack(Acks) ->
    receive
        {ack, Node, R} -> Acks#{Node := R}
    after ?WAIT_MS ->
        throw({error, "erlang_pg_fanout_64",
               io_lib:format("no ack for ~p s; acked rounds ~p",
                             [?WAIT_MS div 1000, Acks])})
    end.

drain(Acks) ->
    receive
        {ack, Node, R} -> drain(Acks#{Node := R})
    after 0 -> Acks
    end.

wait_all(Round, Acks) ->
    case lists:all(fun(R) -> R >= Round end, maps:values(Acks)) of
        true -> Acks;
        false -> wait_all(Round, await_ack(Acks))
    end.

%% Distribution messages put on the link to Node so far: the output counter
%% of its dist entry (erlang:dist_get_stat/1, counted per message a process
%% controller such as inet_tls_dist's takes with dist_ctrl_get_data). The
%% handle is the connection id net_kernel keeps in its sys_dist table (the
%% OTP 25 record layout: element 3). net_kernel:node_info/1's in/out would
%% count TLS socket writes, each carrying many messages.
dist_out(Node) ->
    case catch ets:lookup(sys_dist, Node) of
        [Conn] when tuple_size(Conn) >= 3 ->
            case catch erlang:dist_get_stat(element(3, Conn)) of
                {ok, _In, Out, _Pending} -> Out;
                _ -> no_stat(Node)
            end;
        _ -> no_stat(Node)
    end.

no_stat(Node) ->
    throw({error, "erlang_pg_frames_per_link_per_publish",
           "no distribution statistics for " ++ atom_to_list(Node)}).

cpus(Peers) ->
    [cpu_s() | [case rpc:call(Pe, ?MODULE, cpu_s, [], ?WAIT_MS) of
                    V when is_number(V) -> V;
                    _ -> 0.0
                end || Pe <- Peers]].

%% CPU seconds (user + system) of this OS process, from /proc/self/stat.
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

%% ---- output ---------------------------------------------------------------

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
              "\"proto_dist\":\"inet_tls\"}~n",
              [Name, num(Value), Unit, Fields,
               erlang:system_info(schedulers_online),
               erlang:system_info(otp_release)]).
