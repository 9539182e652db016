#!/usr/bin/env python3
"""mock_server.py — the inspector's page and API on a synthetic cluster.

Serves node/daemon/ui/ at / (read from disk on every request, so an edit
shows on reload) and the JSON endpoints and the SSE stream of
docs/inspector.md for three nodes (n1, serving, n2, n3) and N actors whose
counters move with time, the serving node's log and events (a few made-up
lines a second), with the security headers of the doc's Access section. For developing the page and for tests of the page alone; the
figures are made up but consistent (a link's out on one side is its in on
the other, counters only grow).

    python3 tests/ui/mock_server.py --port 8080 [--actors N]
        [--states alive,suspect,dead] [--timeout-node n3] [--verbose]

Python 3 standard library only.
"""
import argparse
import json
import math
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

UI_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..",
                                       "node", "daemon", "ui"))
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
SECURITY_HEADERS = [
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'self'"),
    ("Referrer-Policy", "no-referrer"),
]
SORT_KEYS = ["id", "type", "node", "queued", "capacity", "hwm", "delivered",
             "sent", "in_per_s", "out_per_s", "handler_mean_ns",
             "handler_max_ns", "age_ms"]
DEAD_REASONS = ["no_actor", "mailbox_full", "stopped", "late_reply",
                "publish_full", "rejected_full", "rejected_no_actor",
                "rejected_toobig", "unreachable", "remote_full",
                "remote_no_actor", "group_full", "rejected_badtype",
                "remote_badtype"]
NODES = ["n1", "n2", "n3"]
SERVING = "n1"
LEVELS = ["error", "warn", "info", "debug"]
# The names /api/events keeps (node/daemon/inspector.c EVENT_NAMES).
EVENT_NAMES = {"member", "id_conflict", "id_conflict_lost", "policy_denied",
               "op_request_denied", "inspector_action", "inspector_session",
               "certificate_refused", "swim_proof_refused",
               "registry_proof_refused", "group_members_unbelieved",
               "link_up", "link_unreachable", "member_cap", "peer_cap",
               "cluster_started", "cluster_left", "tls_reloaded",
               "run_started", "run_stopping", "run_reloaded"}
LOG_KEEP = 1000


class BadRequest(Exception):
    pass


class Actor:
    """One actor's fixed traits; its figures at time t come from them."""
    __slots__ = ("id", "type", "node", "capacity", "parent", "children",
                 "rate", "out_ratio", "omega", "phase", "hot", "handler_ns",
                 "handler_spread", "age0")

    def __init__(self, rng, aid, atype, node, parent=None):
        self.id, self.type, self.node, self.parent = aid, atype, node, parent
        self.children = []
        self.capacity = rng.choice([64, 256, 1024, 1024, 4096])
        idle = rng.random() < 0.3
        self.rate = 0.0 if idle else rng.lognormvariate(1.0, 1.2)
        self.out_ratio = rng.choice([0.0, 0.5, 1.0, 1.0, 1.2])
        self.omega = rng.uniform(0.05, 0.4)
        self.phase = rng.uniform(0, 2 * math.pi)
        self.hot = (not idle) and rng.random() < 0.04
        self.handler_ns = rng.lognormvariate(7.5, 1.5)  # ~2 µs, long tail
        self.handler_spread = rng.uniform(2, 60)
        self.age0 = rng.uniform(1, 86400)

    def at(self, t):
        """The /api/actors object at t seconds after the server started."""
        wave = math.sin(t * self.omega + self.phase)
        in_per_s = self.rate * (1 + 0.5 * wave)
        age = self.age0 + t
        # The integral of the rate since the actor started.
        delivered = self.rate * (age + 0.5 * (math.cos(self.phase)
                    - math.cos(t * self.omega + self.phase)) / self.omega)
        if self.hot:
            queued = int(self.capacity * ((wave + 1) / 2) ** 3)
            hwm = self.capacity
        else:
            queued = int(2 * (wave + 1)) if self.rate else 0
            hwm = 4 if self.rate else 0
        mean = self.handler_ns * (1 + 0.2 * wave) if self.rate else 0
        return {"id": self.id, "type": self.type, "node": self.node,
                "queued": queued, "capacity": self.capacity, "hwm": hwm,
                "delivered": int(delivered),
                "sent": int(delivered * self.out_ratio),
                "in_per_s": round(in_per_s, 1),
                "out_per_s": round(in_per_s * self.out_ratio, 1),
                "handler_mean_ns": int(mean),
                "handler_max_ns": int(mean * self.handler_spread),
                "children": len(self.children), "parent": self.parent,
                "age_ms": int(age * 1000)}


class Cluster:
    def __init__(self, n_actors, states, timeout_node, seed=1):
        rng = random.Random(seed)
        self.start = time.time()
        self.start_ms = int(self.start * 1000)
        self.states = dict(zip(NODES, states))
        self.timeout_node = timeout_node
        self.actors = {}
        self.by_node = {n: [] for n in NODES}

        def add(aid, atype, node, parent=None):
            a = Actor(rng, aid, atype, node, parent)
            self.actors[aid] = a
            self.by_node[node].append(a)
            if parent:
                self.actors[parent].children.append(aid)
            return a

        # A few well-known actors, then supervisors with their workers;
        # one id holds markup, so a test can check the page escapes it.
        fixed = [("echo", "echo", "n2"), ("clock", "clock", "n1"),
                 ("log", "log", "n3"), ("metrics", "metrics", "n2"),
                 ('<img src=x onerror="alert(1)">/?#&', "evil", "n3")]
        types = ["worker", "session", "cache", "router", "timer"]
        for i, t in enumerate(types):
            fixed.append(("sup." + t, "supervisor", NODES[i % 3]))
        for aid, atype, node in fixed[:max(0, n_actors)]:
            add(aid, atype, node)
        for i in range(max(0, n_actors - len(fixed))):
            t = types[i % len(types)]
            node = NODES[rng.randrange(3)]
            add("%s.%05d" % (t, i), t, node,
                parent="sup." + t if n_actors > len(fixed) else None)

        # Link rates (envelopes/s) between each ordered pair of nodes.
        self.link_rate = {(a, b): rng.uniform(50, 400)
                          for a in NODES for b in NODES if a != b}
        self.rtt_base = {(a, b): rng.uniform(80, 400)
                         for a in NODES for b in NODES if a != b}
        # Topics: (publisher, topic) -> subscribers.
        self.topics = {}
        for pub, topic, subs in [("clock", "", ["log", "echo"]),
                                 ("metrics", "cpu", ["log", "clock"]),
                                 ("metrics", "mem", ["log"])]:
            if pub in self.actors:
                self.topics[(pub, topic)] = [s for s in subs
                                             if s in self.actors]
        workers = [a for a in self.actors.values() if a.type == "worker"]
        caches = [a for a in self.actors.values() if a.type == "cache"]
        self.groups = {"workers": workers[:40], "caches": caches[:12]}
        if "log" in self.actors:
            self.groups["loggers"] = [self.actors["log"]]

        # The serving node's log: its start, then a few lines a second.
        self.lock = threading.Lock()
        self.lines, self.seq, self.logged_to = [], 0, -1
        self.log("info", "run_started", 'name=n1 mode=cluster cluster=mock '
                 'listen=127.0.0.1:7001 advertise=- plugins=- actors=%d '
                 'metrics=off nofile=1024 pid=%d' % (len(self.actors),
                                                     os.getpid()), 0)
        self.log("info", "cluster_started", "name=n1 listen=127.0.0.1:7001", 0)
        for i, n in enumerate(NODES[1:]):
            self.log("info", "link_up", "peer=%s addr=127.0.0.1:%d"
                     % (n, 7002 + i), 0.2 + 0.2 * i)
            self.log("info", "member", "name=%s state=alive was=unknown "
                     "restarted=0 epoch=%d" % (n, self.start_ms),
                     0.3 + 0.2 * i)

    def log(self, level, event, fields, at):
        """A line at `at` seconds after start (the lock held or not needed)."""
        self.seq += 1
        self.lines.append({"seq": self.seq, "level": level, "event": event,
                           "time_ms": self.start_ms + int(at * 1000),
                           "fields": fields})
        del self.lines[:-LOG_KEEP]

    def log_until(self, t):
        """The made-up lines of each second up to t, once."""
        for k in range(self.logged_to + 1, int(t - 0.6) + 1):
            self.logged_to = k
            if k == 0:
                continue
            at = k + 0.137
            self.log("debug", "swim_probe", "target=n%d seq=%d rtt_us=%d"
                     % (2 + k % 2, k, 180 + 37 * (k % 5)), at)
            if k % 4 == 1:
                self.log("info", "dead_letter", "reason=rejected_no_actor "
                         "to=ghost.%d total=%d" % (k, self.dead_no_actor(k)),
                         at + 0.2)
            if k % 10 == 5:
                self.log("warn", "member", "name=n3 state=suspect was=alive "
                         "restarted=0 epoch=%d" % self.start_ms, at + 0.3)
            if k % 10 == 7:
                self.log("info", "member", "name=n3 state=alive was=suspect "
                         "restarted=0 epoch=%d" % self.start_ms, at + 0.3)
            if k % 13 == 3:
                self.log("info", "inspector_session", 'name=op1 role=operator '
                         'client="127.0.0.1:5%04d"' % k, at + 0.4)
            if k % 17 == 9:
                self.log("error", "policy_denied", 'client=v1 action=stop '
                         'target=sup.worker reason="role \\"viewer\\" may '
                         'not stop"', at + 0.5)

    def dead_no_actor(self, t):
        """n1's sends to ids nobody holds: a few, in bursts."""
        return int(t / 3) + 5 * int(t / 45)

    def log_lines(self, q, events):
        level = one(q, "level", "debug")
        if level not in LEVELS:
            raise BadRequest("bad level (want error, warn, info or debug)")
        after = integer(q, "after", 0, 0, 1 << 62)
        limit = integer(q, "limit", 200, 1, 1000)
        worst = LEVELS.index(level)
        with self.lock:
            self.log_until(self.now())
            upto, out = self.seq, []
            for line in self.lines:
                if line["seq"] <= after or LEVELS.index(line["level"]) > worst \
                        or (events and line["event"] not in EVENT_NAMES):
                    continue
                out.append(line)
                if len(out) == limit:
                    upto = line["seq"]
                    break
        return {"lines": out, "last": upto}

    def now(self):
        return time.time() - self.start

    def answering(self):
        """The nodes asked (alive or suspect) and whether each answered."""
        out = []
        for n in NODES:
            if self.states[n] in ("alive", "suspect"):
                out.append((n, n != self.timeout_node))
        return out

    def link_up(self, a, b):
        return (self.states[a] in ("alive", "suspect")
                and self.states[b] in ("alive", "suspect"))

    def cluster(self):
        t = self.now()
        members = [{"name": n, "addr": "127.0.0.1:%d" % (7001 + i),
                    "state": self.states[n],
                    "epoch": self.start_ms - 3600000 * (i + 1),
                    "incarnation": 1 if self.states[n] == "suspect" else 0,
                    "self": n == SERVING} for i, n in enumerate(NODES)]
        nodes = []
        for n, ok in self.answering():
            if not ok:
                nodes.append({"node": n, "status": "timeout"})
                continue
            links = []
            for p in NODES:
                if p == n:
                    continue
                up = self.link_up(n, p)
                # A link that is down has not carried anything: 0 since start.
                out_n = int(self.link_rate[(n, p)] * t) if up else 0
                in_n = int(self.link_rate[(p, n)] * t) if up else 0
                wave = math.sin(t / 3 + len(n) + ord(p[-1]))
                links.append({"peer": p, "up": up,
                              "envelopes_out": out_n, "envelopes_in": in_n,
                              "bytes_out": out_n * 180, "bytes_in": in_n * 180,
                              "queued": max(0, int(4 * wave)) if up else 0,
                              "rtt_us": int(self.rtt_base[(n, p)]
                                            * (1 + 0.2 * wave)) if up else 0,
                              "reconnects": 0 if up else int(t / 5)})
            rate = sum(a.rate for a in self.by_node[n])
            alive = sum(1 for s in self.states.values() if s == "alive")
            counters = {"actors": len(self.by_node[n]),
                        "spawned": len(self.by_node[n]), "stopped": 0,
                        "sent": int(rate * t * 0.9),
                        "delivered": int(rate * t),
                        "published": int(t * 2),
                        "members_alive": alive,
                        "members_suspect": sum(1 for s in self.states.values()
                                               if s == "suspect"),
                        "members_dead": sum(1 for s in self.states.values()
                                            if s == "dead"),
                        "registry_ids": len(self.actors),
                        "group_members": sum(1 for g in self.groups.values()
                                             for a in g if a.node == n),
                        "group_keys": len(self.groups),
                        "group_broadcasts": int(t / 10),
                        "remote_sent": sum(int(self.link_rate[(n, p)] * t)
                                           for p in NODES if p != n),
                        "remote_received": sum(int(self.link_rate[(p, n)] * t)
                                               for p in NODES if p != n),
                        "remote_failed": 0, "undeliverable": 0,
                        "rejected": int(t / 30),
                        # n3 is sometimes slow to answer probes.
                        "local_health": (1 + int(t) % 3 if n == "n3" and
                                         int(t / 15) % 4 == 3 else 0)}
            for r in DEAD_REASONS:
                counters["dead_" + r] = int(t / 20) if r == "mailbox_full" else 0
            if n == SERVING:
                counters["dead_rejected_no_actor"] = self.dead_no_actor(t)
            nodes.append({"node": n, "status": "ok", "counters": counters,
                          "links": links})
        return {"node": SERVING, "time_ms": int(time.time() * 1000),
                "members": members, "nodes": nodes}

    def actor_list(self, q):
        sort = one(q, "sort", "id")
        if sort not in SORT_KEYS:
            raise BadRequest("sort must be one of " + ", ".join(SORT_KEYS))
        order = one(q, "order", "asc")
        if order not in ("asc", "desc"):
            raise BadRequest("order must be asc or desc")
        offset = integer(q, "offset", 0, 0, 1 << 31)
        limit = integer(q, "limit", 50, 1, 500)
        text = one(q, "filter", "")
        only = one(q, "node", "")
        t = self.now()
        rows, totals = [], []
        for n, ok in self.answering():
            if only and n != only:
                continue
            if not ok:
                totals.append({"node": n, "status": "timeout", "total": 0})
                continue
            mine = [a.at(t) for a in self.by_node[n]
                    if not text or text in a.id or text in a.type]
            totals.append({"node": n, "status": "ok", "total": len(mine)})
            rows.extend(mine)
        rows.sort(key=lambda r: r["id"])
        rows.sort(key=lambda r: r[sort], reverse=order == "desc")
        return {"total": len(rows), "offset": offset, "limit": limit,
                "nodes": totals, "actors": rows[offset:offset + limit]}

    def actor(self, q):
        aid = q.get("id", [None])[0]
        if aid is None:
            raise BadRequest("id is missing")
        a = self.actors.get(aid)
        if a is None or not dict(self.answering()).get(a.node):
            return None
        t = self.now()
        subscriptions = [{"publisher": pub, "topic": topic,
                          "node": self.actors[pub].node,
                          "delivered": int(t * 2), "dropped": 0}
                         for (pub, topic), subs in self.topics.items()
                         if aid in subs]
        subscribers = [{"subscriber": s, "topic": topic,
                        "node": self.actors[s].node,
                        "delivered": int(t * 2), "dropped": 0}
                       for (pub, topic), subs in self.topics.items()
                       if pub == aid for s in subs]
        return {"actor": a.at(t), "children": list(a.children),
                "subscriptions": subscriptions, "subscribers": subscribers,
                "groups": [g for g, members in self.groups.items()
                           if a in members]}

    def topic_list(self):
        t = self.now()
        answered = {n for n, ok in self.answering() if ok}
        subs = []
        for (pub, topic), names in self.topics.items():
            pnode = self.actors[pub].node
            remote = set()
            for s in names:
                snode = self.actors[s].node
                if snode in answered:
                    subs.append({"node": snode, "publisher": pub,
                                 "topic": topic, "subscriber": s,
                                 "sub_node": snode,
                                 "delivered": int(t * 2), "dropped": 0})
                if snode != pnode:
                    remote.add(snode)
            if pnode in answered:
                for snode in sorted(remote):
                    subs.append({"node": pnode, "publisher": pub,
                                 "topic": topic, "subscriber": None,
                                 "sub_node": snode,
                                 "delivered": int(t * 2 * len(names)),
                                 "dropped": int(t / 60)})
        return {"subscriptions": subs}

    def group_list(self):
        return {"groups": [{"group": g,
                            "members": [{"id": a.id, "node": a.node}
                                        for a in members]}
                           for g, members in sorted(self.groups.items())]}


def one(q, name, default):
    v = q.get(name)
    return v[0] if v else default


def integer(q, name, default, lo, hi):
    v = one(q, name, None)
    if v is None:
        return default
    try:
        n = int(v, 10)
    except ValueError:
        raise BadRequest("%s must be an integer" % name)
    if not lo <= n <= hi:
        raise BadRequest("%s must be in %d..%d" % (name, lo, hi))
    return n


class Handler(BaseHTTPRequestHandler):
    server_version = "troupe-mock"
    cluster = None
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def head(self, code, ctype, length=None, extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-store")
        if length is not None:
            self.send_header("Content-Length", str(length))
        for k, v in list(SECURITY_HEADERS) + list(extra):
            self.send_header(k, v)
        self.end_headers()

    def json(self, code, obj):
        body = json.dumps(obj, separators=(",", ":")).encode()
        self.head(code, "application/json; charset=utf-8", len(body))
        self.wfile.write(body)

    def do_GET(self):
        url = urlsplit(self.path)
        q = parse_qs(url.query, keep_blank_values=True)
        c = self.cluster
        try:
            if url.path in STATIC:
                name, ctype = STATIC[url.path]
                with open(os.path.join(UI_DIR, name), "rb") as f:
                    body = f.read()
                self.head(200, ctype, len(body))
                self.wfile.write(body)
            elif url.path == "/favicon.ico":  # as the daemon: none, no error
                self.head(204, "image/x-icon")
            elif url.path == "/api/cluster":
                self.json(200, c.cluster())
            elif url.path == "/api/actors":
                self.json(200, c.actor_list(q))
            elif url.path == "/api/actor":
                found = c.actor(q)
                if found is None:
                    self.json(404, {"error": "no such actor"})
                else:
                    self.json(200, found)
            elif url.path == "/api/topics":
                self.json(200, c.topic_list())
            elif url.path == "/api/groups":
                self.json(200, c.group_list())
            elif url.path in ("/api/log", "/api/events"):
                self.json(200, c.log_lines(q, url.path == "/api/events"))
            elif url.path == "/api/stream":
                self.stream(q)
            else:
                self.json(404, {"error": "no such path"})
        except BadRequest as e:
            self.json(400, {"error": str(e)})
        except (BrokenPipeError, ConnectionResetError):
            pass

    def stream(self, q):
        c = self.cluster
        c.actor_list(q)  # a bad parameter is a 400 before the stream starts
        self.head(200, "text/event-stream; charset=utf-8")
        # The first update at once, then one a second until the page goes.
        while True:
            data = json.dumps({"cluster": c.cluster(),
                               "actors": c.actor_list(q)},
                              separators=(",", ":"))
            self.wfile.write(("event: update\ndata: %s\n\n" % data).encode())
            self.wfile.flush()
            time.sleep(1)

    def refuse(self):
        self.json(405, {"error": "only GET"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = refuse


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--actors", type=int, default=10000)
    p.add_argument("--states", default="alive,alive,alive",
                   help="n1,n2,n3's states: alive, suspect, dead or left")
    p.add_argument("--timeout-node", default=None,
                   help="a node that never answers in time")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args()
    states = a.states.split(",")
    if len(states) != 3 or any(s not in ("alive", "suspect", "dead", "left")
                               for s in states) or states[0] != "alive":
        p.error("--states: three of alive, suspect, dead, left; n1 alive")
    Handler.cluster = Cluster(a.actors, states, a.timeout_node, a.seed)
    Handler.verbose = a.verbose
    srv = ThreadingHTTPServer((a.bind, a.port), Handler)
    srv.daemon_threads = True
    print("mock inspector on http://%s:%d/ (%d actors)"
          % (a.bind, srv.server_address[1], len(Handler.cluster.actors)),
          flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
