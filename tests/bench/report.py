#!/usr/bin/python3
"""report.py — docs/benchmarks.md and its plots from one benchmark run's JSON
lines (`bash deploy/dev.sh bench --report`, or `--report-only [FILE]`).

Every figure troupe's benchmarks print, beside Erlang's where a benchmark
measures Erlang too, and beside the bound it is held against where one is
measured in the same run (the cipher, bare TCP, the bare link). Tables by
area, with the ratio, the target and whether it passed, as the benchmark
scripts printed them; plots drawn by gnuplot as SVG. A figure missing from
the results is shown as "not measured in this run", never filled in.

Usage: report.py RESULTS.jsonl OUT_DIR
         writes OUT_DIR/benchmarks.md and OUT_DIR/bench/*.svg
       report.py --self-test FIXTURE.jsonl
         renders FIXTURE into a temporary directory and checks the tables
         and that every plot the markdown names is an SVG (ctest
         bench.report_smoke). Exits 77 (skipped) when gnuplot is missing,
         1 then under CI=true, where the test suite installs it.
Python 3 standard library only; gnuplot (Debian: gnuplot-nox) on PATH.
"""
import datetime
import json
import os
import re
import shutil
import sys
import tempfile

from report_data import (NOT_MEASURED, E, F, Results, detection_rows,
                         erlang_detect, fmt, fmt_ratio, get, load, md_escape,
                         num, row, sig)
from report_plots import (plot_detect_cdf, plot_latency_ms, plot_latency_us,
                          plot_ratios)

SECTIONS = [
    ("Local engine", (
        "One node, one thread: `bench_engine` beside `erlang_engine.escript` "
        "(one scheduler, `+S 1`), 64 B messages "
        "(tests/bench/run_engine.sh). The bare queue (the mailbox alone, "
        "without the engine around it) has no benchmark yet: no bound is "
        "shown for these figures."), [
        row("one-way, credit paced (Erlang unpaced, its best case)",
            F("local_oneway"), E("local_oneway"),
            ratio="ratio_local_oneway_vs_erlang",
            checks=["ratio_local_oneway_vs_erlang"]),
        row("one-way, both credit paced (like for like)",
            F("local_oneway"), E("local_oneway_credit"),
            ratio="ratio_local_oneway_vs_erlang_credit"),
        row("ping-pong", F("local_pingpong"), E("local_pingpong"),
            ratio="ratio_local_pingpong_vs_erlang"),
        row("fan-out, 1 publisher → 1,000 subscribers", F("local_fanout"),
            E("local_fanout"), ratio="ratio_local_fanout_vs_erlang"),
        row("spawn then stop", F("spawn_stop"), E("spawn_stop"),
            ratio="ratio_spawn_stop_vs_erlang"),
        row("heap bytes per idle actor (lower is better)",
            F("idle_actor_bytes"), E("idle_actor_bytes"),
            ratio="ratio_idle_actor_bytes_vs_erlang",
            checks=["target_idle_actor_bytes"]),
        row("heap allocations per one-way message",
            F("allocs_per_msg_oneway"),
            checks=["target_allocs_per_msg_oneway"]),
        row("heap allocations per published delivery",
            F("allocs_per_msg_publish"),
            checks=["target_allocs_per_msg_publish"]),
    ]),
    ("Link and remote send", (
        "Two processes on 127.0.0.1 over mutually authenticated TLS: "
        "`bench_link` and `bench_remote` beside Erlang distribution over "
        "TLS (`-proto_dist inet_tls`, one scheduler per node; "
        "tests/bench/run_link.sh, run_cluster.sh). The bounds are measured "
        "in the same run: mbedTLS's AEAD alone on 16 KiB buffers, a bare "
        "libuv TCP ping-pong between the same two processes, and, for "
        "remote send by id, the bare link."), [
        row("link one-way, 64 B", F("link_oneway_64"), E("link_oneway_64"),
            ratio="ratio_link_oneway_64_vs_erlang_tls",
            checks=["ratio_link_oneway_64_vs_erlang_tls", "link_oneway_64"]),
        row("link one-way, 4 KiB", F("link_oneway_4k"), E("link_oneway_4k"),
            ratio="compute"),
        row("link one-way, 4 KiB payload MB/s", F("link_oneway_4k_mbps"),
            E("link_oneway_4k_mbps"),
            ratio="ratio_link_oneway_4k_mbps_vs_erlang_tls",
            bound=("AES-128-GCM alone", F("aes128_gcm_16k")),
            bound_ratio="ratio_link_4k_vs_aes_gcm",
            checks=["ratio_link_4k_vs_aes_gcm"]),
        row("link one-way, 4 KiB payload MB/s, against ChaCha20-Poly1305",
            F("link_oneway_4k_mbps"),
            bound=("ChaCha20-Poly1305 alone", F("chachapoly_16k")),
            bound_ratio="ratio_link_4k_vs_chachapoly",
            note="the link negotiates ChaCha20-Poly1305 here"),
        row("link round trip, 64 B, p50 (lower is better)",
            F("link_rtt_64_p50"), E("link_rtt_64_p50"),
            ratio="ratio_link_rtt_p50_vs_erlang_tls",
            bound=("bare TCP p50", F("tcp_rtt_64_p50")),
            bound_ratio="ratio_link_rtt_p50_vs_tcp",
            checks=["ratio_link_rtt_p50_vs_tcp"]),
        row("link round trip, 64 B, p99 (lower is better)",
            F("link_rtt_64_p99"), E("link_rtt_64_p99"), ratio="compute",
            bound=("bare TCP p99", F("tcp_rtt_64_p99")),
            bound_ratio="compute"),
        row("link CPU, 64 B, both processes (lower is better)",
            F("link_cpu_64_total"), E("link_cpu_64_total"),
            ratio="ratio_link_cpu_64_vs_erlang_tls"),
        row("link CPU, 4 KiB, both processes (lower is better)",
            F("link_cpu_4k_total"), E("link_cpu_4k_total"),
            ratio="compute"),
        row("TLS bytes on the wire per 64 B envelope",
            F("link_bytes_per_env_64")),
        row("remote send by id, 64 B, unpaced",
            F("ratio_remote_oneway_64_vs_link", field="remote"),
            bound=("the bare link (medians)",
                   F("ratio_remote_oneway_64_vs_link", field="link")),
            bound_ratio="ratio_remote_oneway_64_vs_link",
            checks=["ratio_remote_oneway_64_vs_link"],
            note="medians of run_cluster.sh's alternated runs"),
        row("remote send by id, 64 B, windowed (2,000 unacked)",
            F("remote_windowed_64"), E("remote_windowed_64"),
            ratio="ratio_remote_windowed_64_vs_erlang_tls",
            checks=["ratio_remote_windowed_64_vs_erlang_tls",
                    "ratio_remote_windowed_64_vs_unpaced"]),
        row("remote send by id, 64 B, nodes without credit",
            F("remote_oneway_64_nocredit"),
            checks=["ratio_remote_oneway_64_credit_vs_none"],
            note="credit's cost: unpaced with credit over this"),
        row("slow consumer (~2 µs a message), paced by credit",
            F("remote_slow_consumer_64"),
            bound=("the same consumer never kept waiting",
                   F("remote_slow_consumer_64_unpaced")),
            bound_ratio="ratio_remote_slow_consumer_paced_vs_free",
            checks=["ratio_remote_slow_consumer_paced_vs_free"]),
        row("remote send CPU, 64 B, both processes (lower is better)",
            F("remote_cpu_64_total")),
        row("remote send CPU, windowed, both processes (lower is better)",
            F("remote_windowed_64_cpu_total"),
            E("remote_windowed_64_cpu_total"), ratio="compute"),
        row("remote send by id, both nodes in one process",
            F("cluster_oneway_64")),
        row("ask round trip, one process, p50 (lower is better)",
            F("cluster_ask_rtt_p50")),
        row("ask round trip, one process, p99 (lower is better)",
            F("cluster_ask_rtt_p99")),
    ]),
    ("Cluster pub/sub and groups", (
        "Three or five real cluster nodes in one process, TLS on loopback "
        "(`bench_cluster`, `bench_groups`), beside three Erlang nodes using "
        "OTP `pg` and a send to each member over TLS distribution "
        "(`erlang_pubsub.escript`, one scheduler each; run_cluster.sh)."), [
        row("pub/sub fan-out, 300 subscribers on 3 nodes",
            F("cluster_pubsub_fanout_64"), E("erlang_pg_fanout_64"),
            ratio="ratio_pubsub_fanout_vs_erlang_pg",
            bound=("local fan-out in the same script",
                   F("ratio_cluster_fanout_vs_local", field="local")),
            bound_ratio="ratio_cluster_fanout_vs_local",
            checks=["ratio_pubsub_fanout_vs_erlang_pg",
                    "cluster_pubsub_fanout_64",
                    "ratio_cluster_fanout_vs_local"]),
        row("frames per link per publish (lower is better)",
            F("cluster_pubsub_frames_per_link"),
            E("erlang_pg_frames_per_link_per_publish"),
            ratio="compute", checks=["cluster_pubsub_frames_per_link"]),
        row("group broadcast, 300 members on 3 nodes",
            F("cluster_group_broadcast_64"), E("erlang_pg_fanout_64"),
            ratio="ratio_group_broadcast_vs_erlang_pg",
            checks=["ratio_group_broadcast_vs_erlang_pg"]),
        row("group broadcast frames per link (lower is better)",
            F("cluster_group_broadcast_frames_per_link"),
            checks=["cluster_group_broadcast_frames_per_link"]),
        row("group send to one member", F("cluster_group_send_one_64")),
        row("group send to one member, all remote",
            F("cluster_group_send_one_remote_64")),
        row("group join seen on 5 nodes, p50", F("cluster_group_join_ms_p50"),
            checks=["cluster_group_join_ms_p50"]),
        row("group join seen on 5 nodes, max", F("cluster_group_join_ms_max"),
            checks=["cluster_group_join_ms_max"]),
        row("a spawn resolved on 5 nodes, p50", F("cluster_resolve_ms_p50")),
        row("a spawn resolved on 5 nodes, max", F("cluster_resolve_ms_max"),
            checks=["cluster_resolve_ms_max"]),
        row("5 nodes start to all alive", F("cluster_join_ms")),
    ]),
    ("Typed messages", (
        "A typed nanopb message (`tr_send_msg`) against the raw send of its "
        "encoded bytes (`bench_typed` on one node, `bench_typed_remote` "
        "across the link; docs/typed.md). Erlang has no counterpart."), [
        row("raw send of the encoded bytes", F("raw_send_order")),
        row("typed send (encoded per send)", F("typed_send_order"),
            bound=("raw send", F("raw_send_order")),
            bound_ratio="ratio_typed_vs_raw", checks=["ratio_typed_vs_raw"],
            note="the ratio is typed time per message over raw"),
        row("typed send, receiver decodes", F("typed_roundtrip_order")),
        row("heap allocations per typed message", F("typed_allocs_per_msg"),
            checks=["typed_allocs_per_msg"]),
        row("across the link: raw send", F("remote_raw_send_order")),
        row("across the link: typed send", F("remote_typed_send_order"),
            bound=("raw send", F("remote_raw_send_order")),
            bound_ratio="ratio_remote_typed_vs_raw",
            checks=["ratio_remote_typed_vs_raw"],
            note="the ratio is typed time per message over raw"),
    ]),
]

# The troupe/Erlang throughput ratios of the bar plot (higher is better).
CG_FIGURES = ["cg_local_oneway", "cg_local_pingpong", "cg_local_fanout",
              "cg_remote_send_sender", "cg_remote_send_receiver",
              "cg_codec_encode", "cg_codec_decode"]


def check_cells(res, names):
    """The target and pass cells: each check line's target, ✅/❌, and
    "not measured" for a check whose line is missing."""
    targets, results = [], []
    for n in names:
        r = res.find(n)
        label = n.replace("_", " ")
        if r is None or "pass" not in r:
            targets.append("%s: %s" % (label, NOT_MEASURED))
            results.append("—")
            continue
        tgt = r.get("target", "")
        targets.append("%s %s" % (label, tgt) if len(names) > 1 else str(tgt))
        results.append("pass" if r.get("pass") else "**FAIL**")
    return "<br>".join(targets) or "—", "<br>".join(results) or "—"


def render_row(res, spec):
    tv, tu, _ = get(res, spec["t"])
    ev, eu, _ = get(res, spec["e"])
    unit = tu or eu
    if spec["t"] and spec["t"][2] in ("remote", "link"):
        unit = "msgs/s"
    cells = [spec["label"], fmt(tv, unit)]
    cells.append(fmt(ev, eu or unit) if spec["e"] else "—")
    if spec["ratio"] == "compute":
        cells.append(fmt_ratio(tv / ev, computed=True)
                     if num(tv) and num(ev) and ev else "—")
    elif spec["ratio"]:
        r = res.find(spec["ratio"])
        cells.append(fmt_ratio(r.get("value")) if r else NOT_MEASURED)
    else:
        cells.append("—")
    if spec["bound"]:
        blabel, bfig = spec["bound"]
        bv, bu, _ = get(res, bfig)
        if spec["t"][2] in ("remote", "link"):
            bu = "msgs/s"
        if spec["bound_ratio"] == "compute":
            br = fmt_ratio(tv / bv, True) if num(tv) and num(bv) and bv \
                else "—"
        else:
            r = res.find(spec["bound_ratio"])
            br = fmt_ratio(r.get("value")) if r else NOT_MEASURED
        if bv is None:
            cells.append("%s: %s" % (blabel, NOT_MEASURED))
        else:
            cells.append("%s: %s (%s)" % (blabel, fmt(bv, bu or unit), br))
    else:
        cells.append("—")
    tgt, ok = check_cells(res, spec["checks"])
    cells += [tgt, ok]
    if spec["note"]:
        cells[0] += " (%s)" % spec["note"]
    return "| " + " | ".join(md_escape(c) for c in cells) + " |"


TABLE_HEAD = ("| Figure | troupe | Erlang | troupe / Erlang | bound (troupe's "
              "ratio to it) | target | result |\n"
              "|---|---|---|---|---|---|---|")


# ---- failure detection, idle cluster, instruction counts ------------------

def section_detection(res):
    lines = ["## Failure detection", "",
             "kill -9 of a `troupe run` node on loopback, timed from the kill "
             "to the last survivor's `node_down … dead` event "
             "(tests/bench/detect_kill.sh, and idle_nodes.sh at its size); "
             "a kill not seen within 30 s counts as 30 s. Erlang's "
             "distribution detects the same kill by the closed connection "
             "(erlang_detect.sh, 5 nodes). The targets are troupe's: "
             "median ≤ 1,000 ms, p99 ≤ 1,500 ms.", "",
             "| Nodes | kills | median | p99 | max | target | result |",
             "|---|---|---|---|---|---|---|"]
    det = detection_rows(res)
    for r in det:
        tgt = "median ≤ %s ms, p99 ≤ %s ms" % (
            r.get("target_median_ms", "?"), r.get("target_p99_ms", "?"))
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            r.get("nodes", "—"), r.get("kills", "—"),
            fmt(r.get("median"), "ms"), fmt(r.get("p99"), "ms"),
            fmt(r.get("max"), "ms"), tgt, pass_cell(r)))
    if not det:
        lines.append("| troupe kill -9 detection | %s | | | | | |" %
                     NOT_MEASURED)
    erl = erlang_detect(res)
    lines += ["", "| Erlang, 5 nodes | net_ticktime | detected after |",
              "|---|---|---|"]
    kills = [x for x in erl if x[0] != "stop"]
    for scen, tick, v in kills:
        lines.append("| %s | %s s | %s |" % (
            "kill -9 (connection closed)" if scen == "kill9" else scen, tick,
            fmt(v, "ms") if num(v) else "not detected within the cap"))
    if not kills:
        lines.append("| Erlang kill -9 detection | | %s |" % NOT_MEASURED)
    lines += ["", "SIGSTOP of a node: hung, its sockets stay open, so only "
              "missed SWIM probes (troupe, at its default timing) or the "
              "distribution tick (Erlang, `net_ticktime`) notice it. "
              "detect_kill.sh stops a node after each size's kills, times it "
              "the same way, then kills and restarts it; erlang_detect.sh "
              "once per tick time (one run, so median and max are the same "
              "figure). troupe's target: median and max ≤ 5,000 ms.", "",
              "| SIGSTOP (hung node) | nodes | stops | median | max | target "
              "| result |", "|---|---|---|---|---|---|---|"]
    stop = detection_rows(res, "detect_sigstop_ms")
    for r in stop:
        tgt = "median, max ≤ %s ms" % r.get("target_ms", "?")
        lines.append("| troupe, default timing | %s | %s | %s | %s | %s | %s |"
                     % (r.get("nodes", "—"), r.get("stops", "—"),
                        fmt(r.get("median"), "ms"), fmt(r.get("max"), "ms"),
                        tgt, pass_cell(r)))
    if not stop:
        lines.append("| troupe, default timing | %s | | | | | |" %
                     NOT_MEASURED)
    stops = [x for x in erl if x[0] == "stop"]
    for _, tick, v in stops:
        shown = fmt(v, "ms") if num(v) else "not detected within the cap"
        lines.append("| Erlang, net_ticktime %s s | 5 | 1 | %s | %s | — "
                     "| — |" % (tick, shown, shown))
    if not stops:
        lines.append("| Erlang | %s | | | | | |" % NOT_MEASURED)
    lines += ["", "Under loss and delay: 5 nodes in network namespaces, each "
              "behind a delay proxy, 5% loss on every link and 100 ms each "
              "way for 10 minutes (tests/netns/cluster.sh --bench, root; "
              "`bash deploy/dev.sh bench --netns`). A killed node's re-dials "
              "reach its proxy, which still listens, so no refusal speeds "
              "the verdict there: that kill -9 figure is the suspicion "
              "timeout's, not the loopback one above.", "",
              "| netns figure | value | target | result |", "|---|---|---|---|"]
    fd = res.find("netns.false_deaths")
    if fd:
        p = fd.get("params", {})
        row = dict(fd, **{"pass": fd.get("value") == 0})
        lines.append("| false deaths, %s nodes, %s s, %s%% loss, %s ms each "
                     "way (%s suspicions) | %s | 0 | %s |" % (
                         p.get("nodes", "?"), p.get("duration_s", "?"),
                         p.get("loss_pct", "?"), p.get("delay_ms_each_way", "?"),
                         p.get("suspicions", "?"), fd.get("value"),
                         pass_cell(row)))
    else:
        lines.append("| false deaths under loss and delay | %s | 0 | |" %
                     NOT_MEASURED)
    for name, what in (("netns.detect_kill9_ms", "kill -9, behind proxies"),
                       ("netns.resolvable_ms", "a new actor resolvable "
                        "everywhere (max)")):
        r = res.find(name)
        if r:
            tgt = r.get("params", {}).get("target_ms")
            row = dict(r, **{"pass": num(tgt) and num(r.get("value")) and
                             r["value"] <= tgt})
            lines.append("| %s | %s | ≤ %s ms | %s |" % (
                what, fmt(r.get("value"), "ms"), tgt, pass_cell(row)))
    lines.append("")
    return lines


def pass_cell(r):
    """A line's own check: pass, **FAIL**, or — when it has none."""
    if "pass" not in r:
        return "—"
    return "pass" if r["pass"] else "**FAIL**"


def section_idle(res):
    lines = ["## Idle cluster and the inspector", "",
             "N `troupe run` nodes on loopback left idle "
             "(tests/bench/idle_nodes.sh), and what the web inspector's live "
             "refresh costs the node serving it (bench_inspector.py, 3 nodes, "
             "10,000 actors). Erlang has no counterpart here.", "",
             "| Figure | nodes | value | target | result |",
             "|---|---|---|---|---|"]
    specs = [("cold start to all alive", "idle_converge_ms", "value", "ms"),
             ("resident memory per node, median", "idle_rss_kb", "median",
              "KiB"),
             ("resident memory per node, max", "idle_rss_kb", "max", "KiB"),
             ("open descriptors per node, median", "idle_fds", "median", ""),
             ("open descriptors per node, max", "idle_fds", "max", ""),
             ("CPU per idle node", "idle_cpu_pct_per_node", "value",
              "% of one core"),
             ("inspector refresh, serving node", "inspector_refresh_pct_core",
              "value", "% of one core")]
    for label, name, field, unit in specs:
        r = res.find(name)
        if r is None:
            lines.append("| %s | | %s | | |" % (label, NOT_MEASURED))
            continue
        tgt = r.get("target", "—")
        if num(tgt):
            tgt = "≤ %s" % tgt
        ok = "—" if "pass" not in r else (
            "pass" if r["pass"] else "**FAIL**")
        lines.append("| %s | %s | %s | %s | %s |" % (
            label, r.get("nodes", "—"), fmt(r.get(field), unit), tgt, ok))
    lines.append("")
    return lines


def section_cg(res):
    lines = ["## Instruction counts", "",
             "Instructions and cache misses per operation under cachegrind "
             "(tests/bench/cachegrind.sh, a simulated cache): counts, not "
             "times, so the same on a busy or a quiet machine. Erlang has no "
             "counterpart.", "",
             "| Figure | per | instructions | D1 misses | LL misses | target "
             "| result |", "|---|---|---|---|---|---|---|"]
    for name in CG_FIGURES + sorted({r["name"] for r in res.rows
                                     if r.get("name", "").startswith("cg_")}
                                    - set(CG_FIGURES)):
        r = res.find(name)
        if r is None:
            lines.append("| %s | | %s | | | | |" % (name, NOT_MEASURED))
            continue
        tgt = ", ".join("≤ %s %s" % (sig(r[k]), what) for k, what in
                        (("target_instructions", "instructions"),
                         ("target_d1_misses", "D1 misses"))
                        if num(r.get(k))) or "—"
        ok = "—" if "pass" not in r else (
            "pass" if r["pass"] else "**FAIL**")
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            name, r.get("unit", ""), fmt(r.get("instructions")),
            fmt(r.get("d1_misses")), fmt(r.get("ll_misses")), tgt, ok))
    lines.append("")
    return lines


def section_generic(title, intro, rows):
    lines = ["## " + title, "", intro, "",
             "| Figure | value | parameters |", "|---|---|---|"]
    for r in rows:
        params = ", ".join(
            "%s=%s" % (k, json.dumps(v) if not isinstance(v, str) else v)
            for k, v in r.items()
            if k not in ("name", "value", "unit") and
            not isinstance(v, (list, dict)))
        val = fmt(r.get("value"), r.get("unit", "")) if "value" in r else "—"
        if r.get("error"):
            val = "error: " + str(r["error"])
        lines.append("| %s | %s | %s |" % (md_escape(r.get("name", "?")),
                                           md_escape(val), md_escape(params)))
    lines.append("")
    return lines


# ---- the document ---------------------------------------------------------

def machine_now():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return os.cpu_count(), model


def header(res, results_path, shown_path):
    info = next((r for r in res.rows if r.get("name") == "run_info"), None)
    if info is not None:
        res.used.add(id(info))
    lines = []
    if info and info.get("quick"):
        lines += ["> **This is a `--quick` run** (small counts, a smoke run "
                  "of the pipeline): its figures are not meaningful, and this "
                  "page will be regenerated from a full run "
                  "(`bash deploy/dev.sh bench --report`).", ""]
    lines += ["# Benchmarks", "",
              "Generated by `tests/bench/report.py` from `%s`; do not edit. "
              "Regenerate with `bash deploy/dev.sh bench --report` (runs "
              "every benchmark: a long run) or `bash deploy/dev.sh bench "
              "--report-only [FILE]` (only this page, from the newest or the "
              "given results)." % shown_path, ""]
    if info:
        d = info.get("date", "")
        try:
            d = datetime.datetime.strptime(d, "%Y%m%dT%H%M%SZ").strftime(
                "%Y-%m-%d %H:%M UTC")
        except ValueError:
            pass
        commit = info.get("commit") or "unknown"
        dirty = info.get("dirty_files", 0)
        lines += ["- Run: %s%s" % (d, ", `--quick`" if info.get("quick")
                                   else ""),
                  "- Commit: `%s`%s" % (commit, " with %d modified tracked "
                                        "file(s)" % dirty if dirty else ""),
                  "- Machine: %s cores, %s" % (info.get("nproc", "?"),
                                               info.get("cpu_model") or
                                               "model unknown")]
    else:
        n, model = machine_now()
        lines += ["- Run: the results carry no `run_info` line; file dated "
                  "%s" % datetime.datetime.fromtimestamp(
                      os.path.getmtime(results_path),
                      datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                  "- Machine (the one rendering this page): %d cores, %s" %
                  (n, model or "model unknown")]
    lines += ["", "Wall-clock figures (rates, round trips, detection times) "
              "taken on a shared 2-core machine are noisy: two processes "
              "that each want a core compete with everything else running, "
              "and runs vary by ±10%% or more. Counts (heap allocations, "
              "frames per link, bytes per envelope, instructions) do not "
              "depend on the load. Ratios printed in *italics* are worked "
              "out here from the two figures; the others are printed by the "
              "benchmark scripts. \"%s\" means the results hold no line for "
              "that figure." % NOT_MEASURED, ""]
    return lines


def summary(res):
    checked = [r for r in res.rows if "pass" in r and
               r.get("name") not in ("targets_summary",)]
    failed = sorted({r["name"] for r in checked if not r.get("pass")})
    errors = [r for r in res.rows if r.get("error")]
    lines = ["## Summary", "",
             "%d target checks in this run, %d missed%s." % (
                 len(checked), len(failed),
                 ": " + ", ".join("`%s`" % f for f in failed) if failed
                 else "")]
    if errors:
        lines.append("")
        lines.append("Benchmarks reported errors: " + "; ".join(
            "`%s`: %s" % (r.get("name", "?"), r["error"]) for r in errors) +
            ".")
    lines.append("")
    return lines


def render(results, out_dir, root):
    res = Results(load(results))
    plots_dir = os.path.join(out_dir, "bench")
    os.makedirs(plots_dir, exist_ok=True)
    rel = os.path.relpath(os.path.abspath(results), root)
    if rel.startswith(".."):
        rel = os.path.basename(results)
    md = header(res, results, rel)
    md += summary(res)

    def figure(fname, caption, drawn, missing=()):
        p = os.path.join(plots_dir, fname)
        if drawn is None:
            if os.path.exists(p):
                os.remove(p)  # not this run's: do not leave it behind
            return ["*%s: %s.*" % (caption, NOT_MEASURED), ""]
        out = ["![%s](bench/%s)" % (caption, fname), ""]
        if missing:
            out += ["Not in the plot (%s): %s." % (NOT_MEASURED,
                                                   ", ".join(missing)), ""]
        return out

    for i, (title, intro, rows) in enumerate(SECTIONS):
        md += ["## " + title, "", intro, "", TABLE_HEAD]
        md += [render_row(res, spec) for spec in rows]
        md.append("")
        if i == 0:
            path, missing = plot_ratios(res, os.path.join(plots_dir,
                                                          "ratios.svg"))
            md += ["The throughput ratios of all areas against Erlang "
                   "(the triangles are targets):", ""]
            md += figure("ratios.svg", "troupe over Erlang, throughput",
                         path, missing)
        if i == 1:
            path, missing = plot_latency_us(res, os.path.join(
                plots_dir, "latency_us.svg"))
            md += figure("latency_us.svg", "round-trip percentiles", path,
                         missing)
        if i == 2:
            path, missing = plot_latency_ms(res, os.path.join(
                plots_dir, "latency_ms.svg"))
            md += figure("latency_ms.svg", "convergence and detection times",
                         path, missing)
    md += section_detection(res)
    path = plot_detect_cdf(res, os.path.join(plots_dir, "detect_cdf.svg"))
    md += figure("detect_cdf.svg", "kill -9 detection time, CDF per cluster "
                 "size", path)
    md += section_idle(res)
    md += section_cg(res)
    sim = [r for r in res.rows if r.get("name", "").startswith("sim_")]
    res.used.update(id(r) for r in sim)
    md += section_generic(
        "Simulated cluster", "The cluster simulator (tests/sim/bench_sim.c, "
        "run_sim.sh): SWIM and the registry for 100 and 1,000 nodes in "
        "virtual time, with members signing their own records "
        "(`trust=true`) and without (`trust=false`). Virtual times, so "
        "not noisy; `-1` means it never happened within the bound.",
        sim) if sim else ["## Simulated cluster", "", NOT_MEASURED + ".", ""]
    skip = {"run_info", "targets_summary"}
    rest = [r for r in res.rows if id(r) not in res.used and
            r.get("name") not in skip and not r.get("name", "").startswith(
                "ratio_") and not r.get("name", "").startswith("target_")]
    # Repeats of a figure already shown (run_cluster.sh's alternated runs,
    # whose medians its ratio lines carry) are not "other" figures; of the
    # others, the first line of each is shown.
    res.all("remote_oneway_64")  # in ratio_remote_oneway_64_vs_link
    shown = {r.get("name") for r in res.rows if id(r) in res.used}
    seen, uniq = set(), []
    for r in rest:
        key = (r.get("name"), r.get("runtime"), r.get("nodes"),
               r.get("trust"))
        if r.get("name") not in shown and key not in seen:
            seen.add(key)
            uniq.append(r)
    rest = uniq
    if rest:
        md += section_generic(
            "Other figures", "Lines in the results that no table above "
            "shows (the proof costs, Erlang's auxiliary "
            "figures, and any figure newer than this report).", rest)
    text = "\n".join(md).rstrip() + "\n"
    with open(os.path.join(out_dir, "benchmarks.md"), "w") as f:
        f.write(text)
    return text


# ---- the smoke test -------------------------------------------------------

def self_test(fixture):
    if shutil.which("gnuplot") is None:
        msg = "gnuplot not installed (apt-get install gnuplot-nox)"
        if os.environ.get("CI") == "true":
            print("FAIL: " + msg + ", and CI installs it")
            return 1
        print("SKIP: " + msg)
        return 77
    root = os.path.abspath(os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "..", ".."))
    out = tempfile.mkdtemp(prefix="troupe-report.")
    try:
        text = render(fixture, out, root)
        problems = []
        for title in ["# Benchmarks", "## Summary", "## Local engine",
                      "## Link and remote send", "## Cluster pub/sub and "
                      "groups", "## Typed messages", "## Failure detection",
                      "## Idle cluster and the inspector",
                      "## Instruction counts", "## Simulated cluster"]:
            if "\n" + title + "\n" not in "\n" + text:
                problems.append("no section " + title)
        if text.count("| Figure |") < 6:
            problems.append("fewer than 6 tables")
        for bad in ("None", "nan", "NaN", "Traceback"):
            if re.search(r"\b%s\b" % bad, text):
                problems.append("the text says " + bad)
        svgs = re.findall(r"!\[[^\]]*\]\((bench/[^)]+)\)", text)
        for want in ("ratios.svg", "latency_us.svg", "latency_ms.svg",
                     "detect_cdf.svg"):
            if "bench/" + want not in svgs:
                problems.append("no plot " + want)
        for rel in svgs:
            p = os.path.join(out, rel)
            try:
                with open(p) as f:
                    body = f.read()
            except OSError:
                problems.append(rel + " missing")
                continue
            if "<svg" not in body[:2000] or "</svg>" not in body[-200:]:
                problems.append(rel + " is not an SVG")
        for label in ("one-way, credit paced", "link one-way, 64 B",
                      "pub/sub fan-out", "typed send", "cg_local_oneway",
                      "CPU per idle node", "troupe, default timing",
                      "false deaths, 5 nodes"):
            line = next((l for l in text.splitlines()
                         if l.startswith("| " + label)), None)
            if line is None:
                problems.append("no row " + label)
            elif NOT_MEASURED in line.split("|")[2]:
                problems.append("row %s: the fixture's figure not shown"
                                % label)
        if NOT_MEASURED not in text:
            problems.append("a figure the fixture lacks is not marked "
                            "'%s'" % NOT_MEASURED)
        if problems:
            print("FAIL:\n  " + "\n  ".join(problems))
            print("(the rendering is in %s)" % out)
            return 1
        print("ok: %d lines, %d plots" % (text.count("\n"), len(svgs)))
        shutil.rmtree(out)
        return 0
    except Exception as e:  # a crash is a failure with its reason
        print("FAIL: %s: %s (the rendering is in %s)" % (
            type(e).__name__, e, out))
        return 1


def main(argv):
    if len(argv) == 3 and argv[1] == "--self-test":
        return self_test(argv[2])
    if len(argv) != 3 or argv[1].startswith("-"):
        print(__doc__.split("\n\n")[-1].strip(), file=sys.stderr)
        return 2
    if shutil.which("gnuplot") is None:
        print("report.py: gnuplot not installed (apt-get install gnuplot-nox)",
              file=sys.stderr)
        return 1
    root = os.path.abspath(os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "..", ".."))
    try:
        render(argv[1], argv[2], root)
    except (OSError, RuntimeError) as e:
        print("report.py: %s" % e, file=sys.stderr)
        return 1
    print("report.py: wrote %s and %s" % (os.path.join(
        argv[2], "benchmarks.md"), os.path.join(argv[2], "bench")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
