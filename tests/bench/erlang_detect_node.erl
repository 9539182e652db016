%% erlang_detect_node.erl — one Erlang node of erlang_detect.sh, which
%% measures Erlang distribution's own failure detection (net_ticktime, TCP
%% close) for comparison with troupe's SWIM detection. The script compiles
%% this module into a temporary directory and starts five nodes with
%%
%%   erl ... -run erlang_detect_node start LogFile LimitS Peer1 Peer2 ...
%%
%% Each node connects to every peer (net_kernel:connect_node, retried until
%% the peer is up, at most ?CONNECT_MS), subscribes with
%% net_kernel:monitor_nodes(true, [nodedown_reason]) and appends one line
%% per event to LogFile, each stamped with os:system_time(millisecond)
%% (CLOCK_REALTIME, the clock the script reads when it sends the signal):
%%
%%   <ms> pid <os pid>
%%   <ms> ready <n peers>            every peer is in nodes()
%%   <ms> nodeup <node>
%%   <ms> nodedown <node> <reason>   e.g. connection_closed, net_tick_timeout
%%   <ms> error <what>
%%
%% The node halts after LimitS seconds whatever happens, so nothing outlives
%% a script that was itself killed.
-module(erlang_detect_node).
-export([start/1]).

-define(CONNECT_MS, 30000).   % the longest the node tries to reach its peers

start([LogFile, LimitS | PeerNames]) ->
    {ok, Log} = file:open(LogFile, [append, raw, binary]),
    erlang:send_after(list_to_integer(LimitS) * 1000, self(), limit),
    ok = net_kernel:monitor_nodes(true, [nodedown_reason]),
    log(Log, "pid ~s", [os:getpid()]),
    Peers = [list_to_atom(P) || P <- PeerNames],
    Deadline = erlang:monotonic_time(millisecond) + ?CONNECT_MS,
    case connect(Peers, Deadline) of
        ok -> log(Log, "ready ~b", [length(Peers)]);
        {missing, M} -> log(Log, "error not_connected ~w", [M])
    end,
    loop(Log).

connect(Peers, Deadline) ->
    [net_kernel:connect_node(P) || P <- Peers -- nodes()],
    case Peers -- nodes() of
        [] -> ok;
        Missing ->
            case erlang:monotonic_time(millisecond) >= Deadline of
                true -> {missing, Missing};
                false -> timer:sleep(100), connect(Peers, Deadline)
            end
    end.

loop(Log) ->
    receive
        {nodeup, N, _} -> log(Log, "nodeup ~s", [N]), loop(Log);
        {nodedown, N, Info} ->
            Reason = proplists:get_value(nodedown_reason, Info, unknown),
            log(Log, "nodedown ~s ~0p", [N, Reason]),
            loop(Log);
        limit -> halt(3);
        _ -> loop(Log)
    end.

log(Log, Fmt, Args) ->
    Ms = os:system_time(millisecond),
    ok = file:write(Log, io_lib:format("~b " ++ Fmt ++ "~n", [Ms | Args])).
