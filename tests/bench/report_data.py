#!/usr/bin/python3
"""report_data.py — the results of one benchmark run as report.py reads
them: the JSON lines, how figures are named and found, how numbers are
written. Shared by report.py (the tables) and report_plots.py (the plots).
"""
import json
import re


NOT_MEASURED = "not measured in this run"


# ---- the results ----------------------------------------------------------

class Results:
    """One run's JSON lines, looked up by name (and by runtime or any other
    field: several lines share a name, e.g. link_oneway_64 for troupe and
    for Erlang, detect_kill9_ms once per cluster size). The first matching
    line wins: it is the dedicated benchmark's (run_link.sh runs before
    run_cluster.sh repeats bench_link for its own comparison)."""

    def __init__(self, rows):
        self.rows = rows
        self.used = set()  # ids of the lines a table or plot showed

    def find(self, name, runtime=None, **fields):
        for r in self.rows:
            if r.get("name") != name:
                continue
            rt = r.get("runtime")
            if runtime == "troupe" and rt not in (None, "troupe"):
                continue
            if runtime == "erlang" and rt != "erlang":
                continue
            if any(r.get(k) != v for k, v in fields.items()):
                continue
            self.used.add(id(r))
            return r
        return None

    def all(self, name, **fields):
        out = [r for r in self.rows if r.get("name") == name and
               all(r.get(k) == v for k, v in fields.items())]
        self.used.update(id(r) for r in out)
        return out


def load(path):
    """The lines of a file that are JSON objects, in order (a benchmark
    log mixes them with other output)."""
    rows = []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# ---- formatting -----------------------------------------------------------

def sig(v, digits=3):
    """v to about `digits` significant figures, thousands separated."""
    if float(v).is_integer() and abs(v) < 1e15:
        return "{:,}".format(int(v))
    a = abs(v)
    if a >= 10 ** (digits - 1):
        return "{:,.0f}".format(v)
    decimals = digits - 1 - int(_floor_log10(a))
    out = "{:,.{}f}".format(v, max(0, decimals))
    return out.rstrip("0").rstrip(".") if "." in out else out


def _floor_log10(a):
    e = 0
    while a >= 10:
        a /= 10
        e += 1
    while a < 1:
        a *= 10
        e -= 1
    return e


UNITS = {"us": "µs", "round_trips/s": "round trips/s",
         "cpu_s/M envelopes": "CPU s per M", "cpu_s/M messages": "CPU s per M",
         "bytes/actor": "B/actor",
         "bytes/envelope": "B/envelope"}


def fmt(v, unit=""):
    """A figure for the table: rates in k/M, times and sizes to 3 figures."""
    if not num(v):
        return NOT_MEASURED
    u = UNITS.get(unit, unit)
    if unit.endswith("/s") and unit != "MB/s" and abs(v) >= 1e4:
        scaled = "%s M" % sig(v / 1e6) if abs(v) >= 1e6 else \
            "%s k" % sig(v / 1e3)
        return "%s %s" % (scaled, u)
    return ("%s %s" % (sig(v), u)).strip()


def fmt_ratio(v, computed=False):
    if not num(v):
        return "—"
    s = "%s×" % sig(v)
    return "*%s*" % s if computed else s


def md_escape(s):
    return str(s).replace("|", "\\|")


# ---- the tables -----------------------------------------------------------
#
# A row names the lines it shows:
#   t, e       troupe's and Erlang's figure: (name, runtime, field, match)
#   ratio      the ratio line a script printed, else "compute" for troupe
#              over Erlang worked out here (shown in italics), else None
#   bound      (label, figure) the bound measured in the same run
#   checks     lines whose "target" and "pass" are shown (a ratio line, a
#              target_ line, the figure's own line)

def F(name, runtime="troupe", field="value", **match):
    return (name, runtime, field, match)


def E(name, field="value", **match):
    return (name, "erlang", field, match)


def row(label, t, e=None, ratio=None, bound=None, bound_ratio=None,
        checks=(), note=""):
    return {"label": label, "t": t, "e": e, "ratio": ratio, "bound": bound,
            "bound_ratio": bound_ratio, "checks": list(checks), "note": note}


def get(res, fig):
    """(value, unit, line) of a figure spec, value None when missing."""
    if fig is None:
        return None, "", None
    name, runtime, field, match = fig
    r = res.find(name, runtime, **match)
    if r is None:
        return None, "", None
    v = r.get(field)
    return (v if num(v) else None), r.get("unit", ""), r


def detection_rows(res, name="detect_kill9_ms"):
    """detect_kill9_ms lines (detect_kill.sh, and idle_nodes.sh at its
    size), or those of another name (detect_sigstop_ms, detect_kill.sh),
    one per cluster size, sorted by size, with their samples."""
    rows = res.all(name)
    by_size = {}
    for r in rows:
        by_size.setdefault(r.get("nodes"), r)  # the first per size
    return [by_size[k] for k in sorted(by_size, key=lambda x: (x is None, x))]


def samples(r):
    s = r.get("samples_ms", r.get("all"))
    return sorted(x for x in s if num(x)) if isinstance(s, list) else []


def erlang_detect(res):
    """Erlang's own kill -9 and SIGSTOP detection (erlang_detect.sh, 5
    nodes): run_cluster.sh's erlang_detect_* lines, else the raw ones."""
    out = []
    for r in res.rows:
        m = re.match(r"erlang_detect_(\w+?)_ticktime_(\d+)$",
                     r.get("name", ""))
        if m:
            res.used.add(id(r))
            out.append((m.group(1), int(m.group(2)), r.get("value")))
    for r in res.rows:  # the same figures as erlang_detect.sh printed them
        if r.get("bench") == "erlang_detect":
            res.used.add(id(r))
            out.append((r.get("scenario"), r.get("net_ticktime"),
                        r.get("detect_ms")))
    seen, uniq = set(), []
    for x in out:
        if (x[0], x[1]) not in seen:
            seen.add((x[0], x[1]))
            uniq.append(x)
    return uniq
