#!/usr/bin/python3
"""report_plots.py — the benchmark report's plots, drawn by gnuplot as SVG
(report.py calls them): troupe over Erlang per figure, round-trip
percentiles, convergence and detection times (kill -9 and SIGSTOP), and
the kill -9 detection time as a CDF per cluster size. Each returns None
when the run has none of its figures, so the report says "not measured"
rather than draw nothing.
"""
import os
import re
import subprocess

from report_data import (E, F, detection_rows, erlang_detect, get, num,
                         samples, sig)

RATIO_BARS = [
    ("local one-way", "ratio_local_oneway_vs_erlang"),
    ("local one-way, both paced", "ratio_local_oneway_vs_erlang_credit"),
    ("local ping-pong", "ratio_local_pingpong_vs_erlang"),
    ("local fan-out", "ratio_local_fanout_vs_erlang"),
    ("spawn+stop", "ratio_spawn_stop_vs_erlang"),
    ("link one-way 64 B", "ratio_link_oneway_64_vs_erlang_tls"),
    ("link 4 KiB MB/s", "ratio_link_oneway_4k_mbps_vs_erlang_tls"),
    ("remote windowed", "ratio_remote_windowed_64_vs_erlang_tls"),
    ("pub/sub fan-out", "ratio_pubsub_fanout_vs_erlang_pg"),
    ("group broadcast", "ratio_group_broadcast_vs_erlang_pg"),
]


# ---- plots ----------------------------------------------------------------

SVG_HEAD = ('set terminal svg size 900,440 dynamic noenhanced '
            'font "sans,11" background rgb "white"\n')


def gp_str(s):
    return '"%s"' % str(s).replace("\\", "\\\\").replace('"', '\\"')


def gnuplot(script, out):
    p = subprocess.run(["gnuplot"], input=script, text=True,
                       capture_output=True)
    if p.returncode != 0 or not os.path.exists(out):
        raise RuntimeError("gnuplot failed on %s: %s" % (
            os.path.basename(out), p.stderr.strip()))


def plot_ratios(res, path):
    data, missing = [], []
    for label, name in RATIO_BARS:
        r = res.find(name)
        if r is None or not num(r.get("value")):
            missing.append(label)
            continue
        tgt = r.get("target", "")
        m = re.match(r">=\s*([0-9.]+)$", str(tgt))
        data.append((label, r["value"], m.group(1) if m else "NaN",
                     gp_str(sig(r["value"]))))
    if not data:
        return None, missing
    rows = "\n".join("%s %s %s %s" % (gp_str(l), v, t, vl)
                     for l, v, t, vl in data)
    script = SVG_HEAD + """set output %s
set title "troupe's throughput over Erlang's (higher is better)"
set ylabel "troupe / Erlang"
set style fill solid 0.85 border -1
set boxwidth 0.6
set xtics rotate by -30 left nomirror
set grid ytics
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0
set xrange [-0.6:%s]
set bmargin 7
set key outside right top
$d << EOD
%s
EOD
plot $d using 0:2:xtic(1) with boxes lc rgb "#3b75af" title "troupe / Erlang", \\
     $d using 0:2:4 with labels offset 0,0.8 notitle, \\
     $d using 0:3 with points pt 9 ps 1.6 lc rgb "#c0392b" title "target", \\
     1 with lines dt 2 lc rgb "#555555" title "parity"
""" % (gp_str(path), len(data) - 0.4, rows)
    gnuplot(script, path)
    return path, missing


def plot_pairs(path, title, ylabel, groups, lo_label, hi_label):
    """Clustered bars, log scale: per group a typical (p50, median) and a
    tail (p99, max) value. Values that are not positive are left out (the
    table shows them)."""
    groups = [(l, a if num(a) and a > 0 else None,
               b if num(b) and b > 0 else None) for l, a, b in groups]
    rows = "\n".join("%s %s %s %s %s" % (
        gp_str(l), a if num(a) else "NaN", b if num(b) else "NaN",
        gp_str(sig(a) if num(a) else ""), gp_str(sig(b) if num(b) else ""))
        for l, a, b in groups)
    script = SVG_HEAD + """set output %s
set title %s
set ylabel %s
set logscale y
set style fill solid 0.85 border -1
set xtics rotate by -30 left nomirror
set grid ytics mytics
set bmargin 7
set xrange [-0.6:%s]
set key inside top left opaque
$d << EOD
%s
EOD
plot $d using ($0-0.18):2:(0.34):xtic(1) with boxes lc rgb "#3b75af" title %s, \\
     $d using ($0+0.18):3:(0.34) with boxes lc rgb "#e69f00" title %s, \\
     $d using ($0-0.18):2:4 with labels offset 0,0.7 font ",9" notitle, \\
     $d using ($0+0.18):3:5 with labels offset 0,0.7 font ",9" notitle
""" % (gp_str(path), gp_str(title), gp_str(ylabel),
       len(groups) - 0.4, rows,
       gp_str(lo_label), gp_str(hi_label))
    gnuplot(script, path)
    return path


def plot_latency_us(res, path):
    groups, missing = [], []
    for label, lo, hi in [
            ("troupe link", F("link_rtt_64_p50"), F("link_rtt_64_p99")),
            ("Erlang TLS dist", E("link_rtt_64_p50"), E("link_rtt_64_p99")),
            ("bare TCP (bound)", F("tcp_rtt_64_p50"), F("tcp_rtt_64_p99")),
            ("troupe ask, 1 process", F("cluster_ask_rtt_p50"),
             F("cluster_ask_rtt_p99"))]:
        a, b = get(res, lo)[0], get(res, hi)[0]
        if a is None and b is None:
            missing.append(label)
        else:
            groups.append((label, a, b))
    if not any(num(a) and a > 0 or num(b) and b > 0 for _, a, b in groups):
        return None, missing
    return plot_pairs(path, "Round trips, 64 B, one in flight (lower is "
                      "better)", "µs", groups, "p50", "p99"), missing


def plot_latency_ms(res, path):
    groups, missing = [], []
    for label, lo, hi in [
            ("group join, 5 nodes", F("cluster_group_join_ms_p50"),
             F("cluster_group_join_ms_max")),
            ("spawn resolved, 5 nodes", F("cluster_resolve_ms_p50"),
             F("cluster_resolve_ms_max"))]:
        a, b = get(res, lo)[0], get(res, hi)[0]
        if a is None and b is None:
            missing.append(label)
        else:
            groups.append((label, a, b))
    for r in detection_rows(res):
        if num(r.get("median")) or num(r.get("p99")):
            groups.append(("kill -9 seen, %s nodes" % r.get("nodes"),
                           r.get("median"), r.get("p99")))
    for r in detection_rows(res, "detect_sigstop_ms"):
        if num(r.get("median")) or num(r.get("max")):
            groups.append(("SIGSTOP seen, %s nodes" % r.get("nodes"),
                           r.get("median"), r.get("max")))
    if not any(a or b for _, a, b in groups):
        return None, missing
    return plot_pairs(path, "Convergence and detection (lower is better)",
                      "ms", groups, "p50 / median", "max / p99"), missing


def plot_detect_cdf(res, path):
    det = [(r.get("nodes"), samples(r)) for r in detection_rows(res)]
    det = [(n, s) for n, s in det if s]
    if not det:
        return None
    blocks, plots = [], []
    for i, (n, s) in enumerate(det):
        pts = "\n".join("%s %s" % (v, (k + 1) / len(s))
                        for k, v in enumerate(s))
        blocks.append("$s%d << EOD\n%s %s\n%s\nEOD" % (i, s[0], 0, pts))
        plots.append("$s%d using 1:2 with steps lw 2 title %s" %
                     (i, gp_str("%s nodes (%d kills)" % (n, len(s)))))
    arrows = []
    lo = min(s[0] for _, s in det)
    hi = max(s[-1] for _, s in det)
    for scen, tick, v in erlang_detect(res):
        if scen == "kill9" and num(v) and v > 0:
            lo, hi = min(lo, v), max(hi, v)
            arrows.append("set arrow from %s, graph 0 to %s, graph 1 nohead "
                          "dt 3 lc rgb \"#888888\"\nset label %s at %s, "
                          "graph 0.95 rotate by 90 right font \",9\"" % (
                              v, v, gp_str(" Erlang kill -9, 5 nodes "), v))
            break
    script = SVG_HEAD + """set output %s
set title "kill -9 detection: time to the last survivor's node_down"
set xlabel "ms after the kill (log scale)"
set ylabel "fraction of kills detected"
set yrange [0:1.05]
set logscale x
set xrange [%s:%s]
set grid xtics mxtics ytics
set key bottom right
%s
%s
plot %s
""" % (gp_str(path), max(lo, 1) / 2, hi * 2, "\n".join(blocks),
       "\n".join(arrows), ", \\\n     ".join(plots))
    gnuplot(script, path)
    return path
