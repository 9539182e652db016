#!/usr/bin/env escript
%%! +S 1
%% erlang_engine.escript — the Erlang counterpart of bench_engine: the same
%% work on one scheduler, one JSON object per figure and line, each with
%% "runtime":"erlang".
%%
%%   local_oneway         msgs/s, 64 B binaries, 1 sender -> 1 receiver; the
%%                        sender sends without pacing (Erlang's best case)
%%   local_oneway_credit  msgs/s, the same with bench_engine's credit flow
%%                        (window 1024, an ack every 256 messages)
%%   local_pingpong       round trips/s between two processes, 64 B
%%   local_fanout         deliveries/s, 1 publisher -> 1,000 subscribers
%%                        (windows of 32 rounds, the last of each acked)
%%   spawn_stop           processes/s, spawn a process then stop it
%%   idle_actor_bytes     erlang:memory(processes) delta per idle process
%%
%% Usage: erlang_engine.escript [--quick] [--only oneway,pingpong,fanout,
%%                              spawn,idle] [--reps R]
-mode(compile).

-define(PAYLOAD, 64).

main(Args) ->
    Opts = parse(Args, #{quick => false, only => all, reps => 0}),
    Quick = maps:get(quick, Opts),
    Reps = case maps:get(reps, Opts) of
               0 when Quick -> 1;
               0 -> 3;
               R -> R
           end,
    Sel = fun(F) -> case maps:get(only, Opts) of
                        all -> true;
                        L -> lists:member(F, L)
                    end
          end,
    C = fun(Q, Full) -> case Quick of true -> Q; false -> Full end end,
    Sel("oneway") andalso run_oneway(C(200000, 10000000), Reps),
    Sel("pingpong") andalso run_pingpong(C(100000, 2000000), Reps),
    Sel("fanout") andalso run_fanout(1000, 32, C(224, 5024), Reps),
    Sel("spawn") andalso run_spawn(C(50000, 1000000), Reps),
    Sel("idle") andalso run_idle(C(20000, 100000)),
    halt(0).

parse([], O) -> O;
parse(["--quick" | T], O) -> parse(T, O#{quick => true});
parse(["--only", L | T], O) ->
    Only = string:tokens(L, ","),
    Known = ["oneway", "pingpong", "fanout", "spawn", "idle"],
    case Only -- Known of
        [] -> parse(T, O#{only => Only});
        [Bad | _] -> parse([Bad], O)
    end;
parse(["--reps", R | T], O) -> parse(T, O#{reps => list_to_integer(R)});
parse([A | _], _) ->
    io:format(standard_error, "unknown argument ~s~n"
              "usage: erlang_engine.escript [--quick] [--only LIST] "
              "[--reps R]~n", [A]),
    halt(2).

%% ---- output ---------------------------------------------------------------

num(V) when is_integer(V) -> integer_to_list(V);
num(V) when abs(V) >= 1000 -> integer_to_list(round(V));
num(V) -> float_to_list(float(V), [{decimals, 4}, compact]).

%% Extra is a list of {Key, Value}; values are numbers or strings.
emit(Name, Value, Unit, Extra) ->
    Fields = [io_lib:format(",\"~s\":~s", [K, val(V)]) || {K, V} <- Extra],
    io:format("{\"name\":\"~s\",\"runtime\":\"erlang\",\"value\":~s,"
              "\"unit\":\"~s\"~s,\"schedulers\":~B,\"otp\":\"~s\"}~n",
              [Name, num(Value), Unit, Fields,
               erlang:system_info(schedulers_online),
               erlang:system_info(otp_release)]).

val(V) when is_number(V) -> num(V);
val(V) -> io_lib:format("\"~s\"", [V]).

now_ns() -> erlang:monotonic_time(nanosecond).

%% Median, min, max of a list of rates.
spread(L) ->
    S = lists:sort(L),
    N = length(S),
    Med = case N rem 2 of
              1 -> lists:nth(N div 2 + 1, S);
              0 -> (lists:nth(N div 2, S) + lists:nth(N div 2 + 1, S)) / 2
          end,
    {Med, hd(S), lists:last(S)}.

%% Runs Fun() (which returns a rate) Reps times, each in a fresh process so
%% no heap or mailbox carries over; returns {Median, Min, Max}.
reps(Fun, Reps) ->
    spread([isolated(Fun) || _ <- lists:seq(1, Reps)]).

isolated(Fun) ->
    Self = self(),
    Ref = make_ref(),
    spawn_link(fun() -> Self ! {Ref, Fun()} end),
    receive {Ref, V} -> V end.

payload() -> binary:copy(<<"x">>, ?PAYLOAD). % a heap binary: copied on send

%% ---- one-way --------------------------------------------------------------

run_oneway(N, Reps) ->
    {Med, Min, Max} = reps(fun() -> oneway(N) end, Reps),
    emit("local_oneway", Med, "msgs/s",
         [{payload, ?PAYLOAD}, {messages, N}, {pacing, "none"},
          {reps, Reps}, {min, Min}, {max, Max}]),
    {MedC, MinC, MaxC} = reps(fun() -> oneway_credit(N, 1024, 256) end, Reps),
    emit("local_oneway_credit", MedC, "msgs/s",
         [{payload, ?PAYLOAD}, {messages, N}, {pacing, "credit"},
          {window, 1024}, {ack_every, 256}, {reps, Reps}, {min, MinC},
          {max, MaxC}]).

oneway(N) ->
    Self = self(),
    Bin = payload(),
    T0 = now_ns(),
    Recv = spawn(fun() -> ow_recv(N, Self) end),
    spawn(fun() -> ow_send(Recv, Bin, N) end),
    receive {done, Recv} -> ok end,
    N * 1.0e9 / (now_ns() - T0).

ow_send(_, _, 0) -> ok;
ow_send(To, Bin, N) -> To ! Bin, ow_send(To, Bin, N - 1).

ow_recv(0, Parent) -> Parent ! {done, self()};
ow_recv(N, Parent) -> receive _ -> ow_recv(N - 1, Parent) end.

oneway_credit(N, Window, AckEvery) ->
    Self = self(),
    Bin = payload(),
    T0 = now_ns(),
    Recv = spawn(fun() ->
                     receive
                         {sender, S} ->
                             owc_recv(N, AckEvery, AckEvery, S, Self)
                     end
                 end),
    Sender = spawn(fun() -> owc_send(Recv, Bin, N, Window, AckEvery) end),
    Recv ! {sender, Sender},
    receive {done, Recv} -> ok end,
    N * 1.0e9 / (now_ns() - T0).

%% Sends while it has credit, then waits for an ack worth AckEvery more.
owc_send(_, _, 0, _, _) -> ok;
owc_send(To, Bin, N, 0, AckEvery) ->
    receive ack -> owc_send(To, Bin, N, AckEvery, AckEvery) end;
owc_send(To, Bin, N, Credit, AckEvery) ->
    To ! Bin,
    owc_send(To, Bin, N - 1, Credit - 1, AckEvery).

%% Left counts down the messages still to come, UntilAck those before the
%% next ack (no division per message, as in bench_engine).
owc_recv(0, _, _, _, Parent) -> Parent ! {done, self()};
owc_recv(Left, 1, AckEvery, Sender, Parent) ->
    receive
        _Bin ->
            Left > 1 andalso (Sender ! ack),
            owc_recv(Left - 1, AckEvery, AckEvery, Sender, Parent)
    end;
owc_recv(Left, UntilAck, AckEvery, Sender, Parent) ->
    receive
        _Bin -> owc_recv(Left - 1, UntilAck - 1, AckEvery, Sender, Parent)
    end.

%% ---- ping-pong ------------------------------------------------------------

run_pingpong(N, Reps) ->
    {Med, Min, Max} = reps(fun() -> pingpong(N) end, Reps),
    emit("local_pingpong", Med, "round_trips/s",
         [{payload, ?PAYLOAD}, {round_trips, N}, {reps, Reps}, {min, Min},
          {max, Max}]).

pingpong(N) ->
    Bin = payload(),
    Pong = spawn(fun pong/0),
    T0 = now_ns(),
    ping(Pong, Bin, N),
    T1 = now_ns(),
    Pong ! stop,
    N * 1.0e9 / (T1 - T0).

ping(_, _, 0) -> ok;
ping(Pong, Bin, N) ->
    Pong ! {self(), Bin},
    receive B when is_binary(B) -> ping(Pong, B, N - 1) end.

pong() ->
    receive
        {From, B} -> From ! B, pong();
        stop -> ok
    end.

%% ---- fan-out --------------------------------------------------------------

%% The publisher sends Window rounds to every subscriber, the last round
%% marked; each subscriber acks the marked one, and the next window starts
%% once all have acked (the pacing bench_engine uses).
run_fanout(NSubs, Window, Rounds0, Reps) ->
    Rounds = (Rounds0 + Window - 1) div Window * Window,
    {Med, Min, Max} = reps(fun() -> fanout(NSubs, Window, Rounds) end, Reps),
    emit("local_fanout", Med, "deliveries/s",
         [{payload, ?PAYLOAD}, {subscribers, NSubs}, {publishes, Rounds},
          {window, Window}, {deliveries, Rounds * NSubs}, {drops, 0},
          {reps, Reps}, {min, Min}, {max, Max}]).

fanout(NSubs, Window, Rounds) ->
    Bin = payload(),
    Self = self(),
    Subs = [spawn(fun() -> fo_sub(Self) end) || _ <- lists:seq(1, NSubs)],
    T0 = now_ns(),
    fo_pub(Subs, NSubs, Bin, Window, Rounds div Window),
    T1 = now_ns(),
    [S ! stop || S <- Subs],
    Rounds * NSubs * 1.0e9 / (T1 - T0).

fo_pub(_, _, _, _, 0) -> ok;
fo_pub(Subs, NSubs, Bin, Window, Windows) ->
    fo_window(Subs, Bin, Window),
    fo_acks(NSubs),
    fo_pub(Subs, NSubs, Bin, Window, Windows - 1).

fo_window(Subs, Bin, 1) ->
    Last = {last, Bin},
    [S ! Last || S <- Subs],
    ok;
fo_window(Subs, Bin, K) ->
    [S ! Bin || S <- Subs],
    fo_window(Subs, Bin, K - 1).

fo_acks(0) -> ok;
fo_acks(N) -> receive ack -> fo_acks(N - 1) end.

fo_sub(Pub) ->
    receive
        B when is_binary(B) -> fo_sub(Pub);
        {last, _} -> Pub ! ack, fo_sub(Pub);
        stop -> ok
    end.

%% ---- spawn + stop ---------------------------------------------------------

%% Spawns a process and sends it a stop message, N times; the run ends when
%% every victim has run and exited (each bumps a counter on its way out).
run_spawn(N, Reps) ->
    {Med, Min, Max} = reps(fun() -> spawn_stop(N) end, Reps),
    emit("spawn_stop", Med, "actors/s",
         [{actors, N}, {reps, Reps}, {min, Min}, {max, Max}]).

spawn_stop(N) ->
    C = counters:new(1, []),
    T0 = now_ns(),
    sp_loop(C, N),
    sp_wait(C, N),
    N * 1.0e9 / (now_ns() - T0).

sp_loop(_, 0) -> ok;
sp_loop(C, N) ->
    P = spawn(fun() -> victim(C) end),
    P ! stop,
    sp_loop(C, N - 1).

victim(C) -> receive stop -> counters:add(C, 1, 1) end.

sp_wait(C, N) ->
    case counters:get(C, 1) of
        N -> ok;
        _ -> erlang:yield(), sp_wait(C, N)
    end.

%% ---- bytes per idle process -----------------------------------------------

run_idle(N) ->
    Before = erlang:processes(),
    Self = self(),
    erlang:garbage_collect(),
    M0 = erlang:memory(processes),
    idle_loop(N),
    erlang:garbage_collect(),
    M1 = erlang:memory(processes),
    New = erlang:processes() -- [Self | Before],
    {memory, One} = erlang:process_info(hd(New), memory),
    [exit(P, kill) || P <- New],
    emit("idle_actor_bytes", (M1 - M0) / N, "bytes/actor",
         [{actors, N}, {process_info_memory, One}]).

idle_loop(0) -> ok;
idle_loop(N) -> spawn(fun idle/0), idle_loop(N - 1).

idle() -> receive stop -> ok end.
