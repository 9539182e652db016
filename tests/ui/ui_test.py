#!/usr/bin/python3
"""ui_test.py — the web inspector's acceptance test (docs/inspector.md).

Three `troupe run` nodes on loopback, certificates from `troupe cert`; n1
serves the inspector (--ui). Actors: on n1 the ticker t1 and watcher (type
watch); on n2 echo-n2 (in
group "workers"), printer p2 (subscribed to t1's "prices") and w, an actor
of type many with 120 idle children w.0 .. w.119; on n3 sink (slow, 20 ms a
message) and burster (tests/ui/ui_plugin.c).

  (a) --ui refused beyond loopback, a bare port on a local node; the JSON
      endpoints over plain HTTP: shapes and values, sorting, filtering and
      paging, the SSE stream, the security headers, a burst seen in sink's
      queue, watcher's monitor of sink and a refused burst to watcher in
      both actors' detail and /api/deadletters, and bad requests answered
      with a 4xx and an {"error"} body, the node answering normally after
      each;
  (b) the page in headless Chromium (cdp.py): no console errors, members
      and actors shown, a burst to sink shown in its queued cell within
      2 s, live rates, a screenshot of each view, the actor detail's
      monitors and dead letters (and their empty states), and n3 killed
      shown dead in its row and suspect, then dead, in n1's events (the
      Events tab and /api/events); then the events (n1's member lines for n2 and
      n3, the filter), the log tail (run_started at info, no info line at
      warn), the members' rtt and health, and the dead letters card (a
      send to an id nobody holds shown as rejected_no_actor).

Exit 0: passed; 1: failed (the work directory is kept, the nodes' logs'
tails printed); 77: (a) passed but (b) cannot run here (no chromium or no
python3-websocket). Every wait is bounded; every process started is killed
at exit, also if this one is killed (PR_SET_PDEATHSIG).

Environment: TROUPE_BIN, UI_PLUGIN (ui_plugin.so), PLUGIN_DIR (echo.so and
ticker.so), optional UI_ARTIFACTS (screenshots; default WORK/artifacts,
gone with WORK on success), CHROMIUM (default /usr/bin/chromium). Run with
/usr/bin/python3: Debian's python3-websocket is installed for it.
"""
import ctypes
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from urllib.parse import quote

SKIP = 77
QUEUED_WITHIN_S = 2  # a burst to sink shows in the page within this
MANY = 120  # w's children


class Fail(Exception):
    pass


def ok(what):
    print("ok: " + what, flush=True)


def until(fn, timeout_s, what, interval=0.1):
    """fn() every interval until truthy (returned); Fail after timeout_s
    with the last value. Bounded in time and in tries."""
    deadline = time.monotonic() + timeout_s
    last = None
    for _ in range(int(timeout_s / interval) + 2):
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise Fail("%s: not within %s s (last: %.300r)" % (what, timeout_s, last))


# ---- processes --------------------------------------------------------------
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():  # in the child, between fork and exec
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_ports(n):
    """n ports free on 127.0.0.1 now, below the ephemeral range, at random
    (tests/daemon/lib.sh free_ports)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            hi = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        hi = 32768
    got = []
    for _ in range(100 * n):
        if len(got) == n:
            return got
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", random.randrange(10000, hi) if hi > 11000
                    else 0))
            if s.getsockname()[1] not in got:
                got.append(s.getsockname()[1])
        except OSError:
            pass
        finally:
            s.close()
    raise Fail("no %d free ports" % n)


class Procs:
    """The processes of the test, their output in WORK/NAME.out and .err."""

    def __init__(self, work):
        self.work, self.procs = work, {}
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("TROUPE_")}
        # The nodes' admin sockets in the test's own directory.
        self.env["XDG_RUNTIME_DIR"] = os.path.join(self.work, "run")
        os.makedirs(self.env["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)

    def start(self, name, argv):
        with open(os.path.join(self.work, name + ".out"), "wb") as out, \
                open(os.path.join(self.work, name + ".err"), "wb") as err:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=err, env=self.env,
                                 preexec_fn=_die_with_parent)
        self.procs[name] = p
        return p

    def read(self, name, ext):
        try:
            with open(os.path.join(self.work, name + ext), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def kill(self, name):
        p = self.procs.pop(name, None)
        if p and p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def kill_all(self):
        for name in list(self.procs):
            self.kill(name)

    def tails(self, lines=20):
        for f in sorted(os.listdir(self.work)):
            if f.endswith((".out", ".err")):
                text = self.read(*os.path.splitext(f)).splitlines()
                if text:
                    print("--- %s/%s" % (self.work, f))
                    print("\n".join(text[-lines:]))


def lower_keys(headers):
    return {k.lower(): v for k, v in headers}


# ---- HTTP -------------------------------------------------------------------
class Api:
    def __init__(self, port):
        self.port = port

    def request(self, method, path, body=None, timeout=5, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, lower_keys(r.getheaders()), r.read()
        except (OSError, http.client.HTTPException) as e:
            raise Fail("%s %s: %r" % (method, path[:80], e))
        finally:
            c.close()

    def get(self, path, want=200):
        """The JSON body of GET path; Fail unless the status is want."""
        status, headers, body = self.request("GET", path)
        if status != want:
            raise Fail("GET %s: %d, want %d: %.300r"
                       % (path, status, want, body))
        ctype = headers.get("content-type", "")
        if not ctype.startswith("application/json"):
            raise Fail("GET %s: Content-Type %r" % (path, ctype))
        try:
            return json.loads(body)
        except ValueError as e:
            raise Fail("GET %s: not JSON (%s): %.300r" % (path, e, body))

    def try_get(self, path):
        try:
            return self.get(path)
        except Fail:
            return None

    def raw(self, data, timeout=5):
        """Sends bytes as they are; the response's status, headers, body."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            try:
                s.sendall(data)
            except OSError:
                pass  # answered and closed before reading all: read it
            r = http.client.HTTPResponse(s)
            r.begin()
            return r.status, lower_keys(r.getheaders()), r.read()
        except (OSError, http.client.HTTPException) as e:
            raise Fail("raw request %.60r...: %r" % (data, e))
        finally:
            s.close()


# ---- (a) the JSON endpoints -------------------------------------------------
ACTOR_FIELDS = ["id", "type", "node", "queued", "capacity", "hwm", "delivered",
                "sent", "in_per_s", "out_per_s", "handler_mean_ns",
                "handler_max_ns", "children", "dead", "restarts", "parent",
                "age_ms"]
SECURITY_HEADERS = {"x-frame-options": "DENY",
                    "x-content-type-options": "nosniff",
                    "content-security-policy": "default-src 'self'",
                    "referrer-policy": "no-referrer"}


def has(obj, keys, what):
    missing = [k for k in keys if k not in obj]
    if missing:
        raise Fail("%s lacks %s: %.300r" % (what, missing, obj))


def check_cluster(api):
    c = api.get("/api/cluster")
    has(c, ["node", "time_ms", "members", "nodes"], "/api/cluster")
    if c["node"] != "n1":
        raise Fail("/api/cluster node %r, want n1" % c["node"])
    if abs(c["time_ms"] - time.time() * 1000) > 60000:
        raise Fail("/api/cluster time_ms %r is not now" % c["time_ms"])
    names = sorted(m["name"] for m in c["members"])
    if names != ["n1", "n2", "n3"]:
        raise Fail("/api/cluster members %s" % names)
    for m in c["members"]:
        has(m, ["name", "addr", "state", "epoch", "incarnation", "self"],
            "member")
        if m["state"] != "alive" or m["self"] != (m["name"] == "n1"):
            raise Fail("/api/cluster member %r" % m)
    if sorted((n["node"], n["status"]) for n in c["nodes"]) != [
            ("n1", "ok"), ("n2", "ok"), ("n3", "ok")]:
        raise Fail("/api/cluster nodes %.500r" % c["nodes"])
    for n in c["nodes"]:
        has(n, ["counters", "links"], "node %s" % n["node"])
        if not isinstance(n["counters"].get("actors"), int) or \
                n["counters"]["actors"] < 1:
            raise Fail("node %s counters %.300r" % (n["node"], n["counters"]))
        peers = sorted(link["peer"] for link in n["links"])
        if peers != sorted({"n1", "n2", "n3"} - {n["node"]}):
            raise Fail("node %s links to %s" % (n["node"], peers))
        for link in n["links"]:
            has(link, ["peer", "up", "envelopes_out", "envelopes_in",
                       "bytes_out", "bytes_in", "queued", "rtt_us",
                       "reconnects"], "link %s-%s" % (n["node"], link["peer"]))
            if link["up"] is not True:
                raise Fail("link %s-%s down: %r"
                           % (n["node"], link["peer"], link))
    ok("/api/cluster: n1 serving, 3 members alive, 3 nodes ok with counters "
       "and links up")


def actors(api, **q):
    path = "/api/actors?" + "&".join("%s=%s" % (k, quote(str(v), safe=""))
                                     for k, v in q.items())
    r = api.get(path)
    has(r, ["total", "offset", "limit", "nodes", "actors"], path)
    for a in r["actors"]:
        has(a, ACTOR_FIELDS, "%s row" % path)
    return r


def check_actors(api):
    r = actors(api)
    if (r["offset"], r["limit"]) != (0, 50) or len(r["actors"]) > 50:
        raise Fail("/api/actors defaults: offset %r limit %r rows %d"
                   % (r["offset"], r["limit"], len(r["actors"])))
    if sorted((n["node"], n["status"]) for n in r["nodes"]) != [
            ("n1", "ok"), ("n2", "ok"), ("n3", "ok")]:
        raise Fail("/api/actors nodes %.300r" % r["nodes"])
    if r["total"] != sum(n["total"] for n in r["nodes"]):
        raise Fail("/api/actors total %d is not the nodes' sum %r"
                   % (r["total"], r["nodes"]))
    ids = [a["id"] for a in r["actors"]]
    if ids != sorted(ids):
        raise Fail("/api/actors default order is not by id: %s" % ids)
    sink = [a for a in r["actors"] if a["id"] == "sink"]
    if not sink or sink[0]["node"] != "n3" or sink[0]["type"] != "slow" or \
            not sink[0]["capacity"] > 0:
        raise Fail("/api/actors: no sink of type slow on n3 with a capacity: "
                   "%.300r" % sink)
    ok("/api/actors: defaults (id asc, 50), totals add up, sink on n3 with "
       "capacity %d" % sink[0]["capacity"])

    full = actors(api, filter="w.", limit=500)
    ids = [a["id"] for a in full["actors"]]
    if full["total"] != MANY or sorted(ids) != sorted(
            "w.%d" % i for i in range(MANY)):
        raise Fail("filter=w.: total %d, ids %s" % (full["total"], ids))
    if any(a["parent"] != "w" or a["node"] != "n2" or a["type"] != "idle"
           for a in full["actors"]):
        raise Fail("filter=w.: a child not of w, on n2, type idle: %.300r"
                   % full["actors"])
    pages = []
    for off in range(0, MANY + 50, 50):
        p = actors(api, filter="w.", offset=off, limit=50)
        if (p["total"], p["offset"], p["limit"]) != (MANY, off, 50):
            raise Fail("filter=w.&offset=%d&limit=50: total %r offset %r "
                       "limit %r" % (off, p["total"], p["offset"], p["limit"]))
        pages += [a["id"] for a in p["actors"]]
    if pages != ids:
        raise Fail("pages of 50 are not the list of 500: %s vs %s"
                   % (pages, ids))
    desc = [a["id"] for a in actors(api, filter="w.", order="desc",
                                    limit=500)["actors"]]
    if desc != sorted(ids, reverse=True):
        raise Fail("order=desc: %s" % desc)
    by_type = actors(api, filter="idle", limit=500)
    if by_type["total"] != MANY + 2:  # w's children, victim1 and victim2
        raise Fail("filter=idle (a type) matched %d" % by_type["total"])
    ok("/api/actors: filter (id and type), offset/limit pages, order=desc "
       "over %d children of w" % MANY)

    on_n2 = actors(api, node="n2", limit=500)
    got = {a["node"] for a in on_n2["actors"]}
    if got != {"n2"} or "echo-n2" not in [a["id"] for a in on_n2["actors"]]:
        raise Fail("node=n2: nodes %s, rows %d" % (got, len(on_n2["actors"])))
    for key in ("queued", "delivered", "in_per_s", "age_ms", "type"):
        for order in ("asc", "desc"):
            rows = actors(api, sort=key, order=order, limit=500)["actors"]
            vals = [a[key] for a in rows]
            if vals != sorted(vals, reverse=order == "desc"):
                raise Fail("sort=%s&order=%s: %s" % (key, order, vals))
    ok("/api/actors: node=n2, sort by queued/delivered/in_per_s/age_ms/type "
       "both ways")

    one = api.get("/api/actor?id=sink")
    has(one, ["actor", "children", "subscriptions", "subscribers", "groups"],
        "/api/actor?id=sink")
    if one["actor"].get("node") != "n3" or one["actor"].get("id") != "sink":
        raise Fail("/api/actor?id=sink: %.300r" % one["actor"])
    w = api.get("/api/actor?id=w")
    if w["actor"]["children"] != MANY or not set(w["children"]) <= {
            "w.%d" % i for i in range(MANY)} or not w["children"]:
        raise Fail("/api/actor?id=w: children %r, %.200r"
                   % (w["actor"]["children"], w["children"]))
    e = api.get("/api/actor?id=echo-n2")
    if e["groups"] != ["workers"] or e["actor"]["node"] != "n2":
        raise Fail("/api/actor?id=echo-n2: %.300r" % e)
    p2 = until(lambda: [s for s in api.get("/api/actor?id=p2")[
        "subscriptions"] if s["publisher"] == "t1"], 10,
        "/api/actor?id=p2 subscribed to t1")
    if p2[0]["topic"] != "prices":
        raise Fail("/api/actor?id=p2 subscription: %r" % p2)
    ok("/api/actor: sink on n3, w's %d children, echo-n2 in workers, p2 "
       "subscribed to t1" % MANY)


def check_topics_groups(api):
    def subs():
        return api.get("/api/topics")["subscriptions"]
    for s in subs():
        has(s, ["node", "publisher", "topic", "subscriber", "sub_node",
                "delivered", "dropped"], "/api/topics row")
    until(lambda: any(s["publisher"] == "t1" and s["subscriber"] == "p2" and
                      s["node"] == "n2" and s["topic"] == "prices"
                      for s in subs()), 10, "/api/topics: p2's on n2")
    until(lambda: any(s["publisher"] == "t1" and s["subscriber"] is None and
                      s["node"] == "n1" and s["sub_node"] == "n2"
                      for s in subs()), 10,
          "/api/topics: n2's interest in t1, held by n1")
    until(lambda: any(s["publisher"] == "t1" and s["delivered"] > 0
                      for s in subs()), 10, "/api/topics: t1 delivered")
    groups = api.get("/api/groups")["groups"]
    workers = [g for g in groups if g["group"] == "workers"]
    if not workers or workers[0]["members"] != [{"id": "echo-n2",
                                                  "node": "n2"}]:
        raise Fail("/api/groups: %.300r" % groups)
    ok("/api/topics: t1 -> p2 on n2 and n2's interest on n1; /api/groups: "
       "workers = echo-n2 on n2")


def check_stream(api):
    s = socket.create_connection(("127.0.0.1", api.port), timeout=5)
    try:
        s.sendall(b"GET /api/stream?limit=5 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Accept: text/event-stream\r\n\r\n")
        r = http.client.HTTPResponse(s)
        r.begin()
        ctype = r.getheader("content-type", "")
        if r.status != 200 or not ctype.startswith("text/event-stream"):
            raise Fail("/api/stream: %d %s" % (r.status, ctype))
        event, updates, t0 = None, [], time.monotonic()
        for _ in range(1000):  # lines; two updates come within ~2 s
            line = r.readline(1 << 24).decode().rstrip("\r\n")
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "update":
                updates.append(json.loads(line[5:]))
                if len(updates) == 2:
                    break
    except (OSError, ValueError, http.client.HTTPException) as e:
        raise Fail("/api/stream: %r" % e)
    finally:
        s.close()
    if len(updates) < 2:
        raise Fail("/api/stream: %d updates" % len(updates))
    u = updates[-1]
    has(u, ["cluster", "actors"], "/api/stream update")
    has(u["cluster"], ["members", "nodes"], "update's cluster")
    if u["actors"].get("limit") != 5 or len(u["actors"]["actors"]) > 5:
        raise Fail("/api/stream?limit=5: %.300r" % u["actors"])
    if updates[1]["cluster"]["time_ms"] <= updates[0]["cluster"]["time_ms"]:
        raise Fail("/api/stream: the second update is not later")
    ok("/api/stream: 2 updates in %.1f s, cluster and actors (limit=5)"
       % (time.monotonic() - t0))


def check_headers(api):
    for path in ("/", "/api/cluster"):
        status, headers, body = api.request("GET", path)
        if status != 200:
            raise Fail("GET %s: %d" % (path, status))
        for k, v in SECURITY_HEADERS.items():
            got = headers.get(k) or ""
            if k == "content-security-policy":  # more directives may follow
                got = v if v in [d.strip() for d in got.split(";")] else got
            if got != v:
                raise Fail("GET %s: %s is %r, want %r" % (path, k,
                                                          headers.get(k), v))
        if path == "/" and not headers.get("content-type", "").startswith(
                "text/html"):
            raise Fail("GET /: Content-Type %r" % headers.get("content-type"))
    ok("the page and the API carry the security headers")


def check_errors(api):
    long_line = b"GET /api/actors?filter=" + b"a" * 10240 + \
        b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    def get(path):
        return lambda: api.request("GET", path)
    cases = [
        ("unknown path", get("/api/nope"), 404),
        ("sort=bogus", get("/api/actors?sort=bogus"), 400),
        ("order=sideways", get("/api/actors?order=sideways"), 400),
        ("limit=0", get("/api/actors?limit=0"), 400),
        ("limit=501", get("/api/actors?limit=501"), 400),
        ("limit=100000", get("/api/actors?limit=100000"), 400),
        ("offset=-1", get("/api/actors?offset=-1"), 400),
        ("limit=abc", get("/api/actors?limit=abc"), 400),
        ("stream sort=bogus", get("/api/stream?sort=bogus"), 400),
        ("actor without id", get("/api/actor"), 400),
        ("actor id=nope", get("/api/actor?id=nope"), 404),
        ("POST", lambda: api.request("POST", "/api/cluster", body=b""), 405),
        ("10 KB request line", lambda: api.raw(long_line), 431),
    ]
    for what, call, want in cases:
        status, headers, body = call()
        if status != want:
            raise Fail("%s: %d, want %d: %.200r" % (what, status, want, body))
        try:
            err = json.loads(body)["error"]
        except (ValueError, KeyError, TypeError):
            err = None
        if not isinstance(err, str) or not err or not headers.get(
                "content-type", "").startswith("application/json"):
            raise Fail("%s: %d without a JSON {\"error\": ...}: %s %.200r"
                       % (what, status, headers.get("content-type"), body))
        if len(api.get("/api/cluster")["members"]) != 3:
            raise Fail("after %s: /api/cluster changed" % what)
        ok("%s: %d {\"error\": %r}; the node still answers" % (what, status,
                                                              err[:60]))


def check_burst_api(api, send):
    """A small burst seen in sink's queue; it drains in ~2 s."""
    def queued():
        a = (api.try_get("/api/actor?id=sink") or {}).get("actor")
        return a if a and a["queued"] > 0 else None
    send("100 sink")
    got = until(queued, 2, "/api/actor?id=sink queued > 0 after a burst")
    ok("/api/actor?id=sink: queued %d, hwm %d after a burst of 100"
       % (got["queued"], got["hwm"]))
    until(lambda: (api.get("/api/actor?id=sink")["actor"]["queued"] == 0), 30,
          "sink drained")


def check_monitors_dead_letters_api(api, nodes, send):
    """watcher (n1) monitors sink (n3): shown in both actors' detail, with
    the other's node. burster (n3) bursts past its first credit (64) to
    watcher (n1): the refused send is shown in watcher's and burster's
    detail as n3's dead letter, and in /api/deadletters."""
    empty = api.get("/api/actor?id=victim2")
    if empty.get("monitors") != {"by": [], "of": [], "more": 0} or \
            empty.get("dead_letters") != []:
        raise Fail("/api/actor?id=victim2: monitors %r, dead_letters %r, "
                   "want none" % (empty.get("monitors"),
                                  empty.get("dead_letters")))
    nodes.send("watcher", "mon sink")
    sink = until(lambda: [m for m in api.get("/api/actor?id=sink")[
        "monitors"]["by"] if m["id"] == "watcher"], 10,
        "/api/actor?id=sink monitored by watcher")
    if sink != [{"id": "watcher", "node": "n1"}]:
        raise Fail("/api/actor?id=sink monitors.by %r" % sink)
    w = api.get("/api/actor?id=watcher")["monitors"]
    if w["of"] != [{"id": "sink", "node": "n3"}] or w["by"] != [] or \
            w["more"] != 0:
        raise Fail("/api/actor?id=watcher monitors %r" % w)
    ok("/api/actor: sink (n3) monitored by watcher (n1), shown both ways")

    def refused():
        d = api.get("/api/actor?id=watcher")["dead_letters"]
        return [x for x in d if x["reason"] == "rejected_full"]
    got = None
    for _ in range(5):  # burster may not know watcher yet: again, bounded
        send("200 watcher")
        try:
            got = until(refused, 3, "a rejected_full dead letter to watcher")
            break
        except Fail:
            continue
    if not got:
        raise Fail("no rejected_full dead letter to watcher after 5 bursts")
    x = got[0]
    has(x, ["at_ms", "reason", "from", "to", "len", "node"], "dead letter")
    if (x["from"], x["to"], x["len"], x["node"]) != ("burster", "watcher",
                                                     1, "n3"):
        raise Fail("watcher's dead letter %r" % x)
    if abs(x["at_ms"] - time.time() * 1000) > 60000:
        raise Fail("dead letter at_ms %r is not now" % x["at_ms"])
    b = api.get("/api/actor?id=burster")["dead_letters"]
    if x not in b:
        raise Fail("burster's dead letters lack %r: %.300r" % (x, b))
    all_ = api.get("/api/deadletters?limit=64")
    has(all_, ["nodes", "dead_letters"], "/api/deadletters")
    at = [d["at_ms"] for d in all_["dead_letters"]]
    if x not in all_["dead_letters"] or at != sorted(at, reverse=True):
        raise Fail("/api/deadletters: %.500r" % all_)
    one = api.get("/api/deadletters?limit=1&node=n3")["dead_letters"]
    if len(one) != 1 or one[0]["node"] != "n3":
        raise Fail("/api/deadletters?limit=1&node=n3: %r" % one)
    api.get("/api/deadletters?limit=65", want=400)
    ok("dead letter burster -> watcher (rejected_full, 1 byte, on n3) in "
       "both actors' detail and /api/deadletters, newest first")


def check_actions_api(api, nodes):
    """Sessions from `troupe ui-login`: a viewer's reads but cannot stop or
    send (403), none at all is 401, a forged token 401/403; an operator's
    sends and stops victim1 (gone from every node's view)."""
    op, viewer = nodes.session("op1"), nodes.session("v1")
    auth = lambda tok: {"Authorization": "Bearer " + tok}
    for tok, name, role in ((op, "op1", "operator"), (viewer, "v1", "viewer")):
        st, _, body = api.request("GET", "/api/session", headers=auth(tok))
        got = json.loads(body)
        if st != 200 or got.get("name") != name or got.get("role") != role:
            raise Fail("/api/session for %s: %d %.200r" % (name, st, body))
    st, _, body = api.request("GET", "/api/session")
    if st != 401 or "error" not in json.loads(body):
        raise Fail("/api/session without a token: %d %.200r" % (st, body))
    forged = op[:-2] + ("00" if op[-2:] != "00" else "11")
    for tok, want, who in ((viewer, 403, "a viewer"), (None, 401, "nobody"),
                           (forged, 401, "a forged token")):
        for verb in ("stop", "send"):
            st, _, body = api.request("POST", "/api/actor/%s?id=victim1" % verb,
                                      body=b"hi", headers=auth(tok) if tok
                                      else {})
            if st != want or "error" not in json.loads(body):
                raise Fail("%s: %s victim1: %d %.200r, want %d" % (
                    who, verb, st, body, want))
    if not api.try_get("/api/actor?id=victim1"):
        raise Fail("victim1 gone after refused stops")
    ok("sessions: op1 operator, v1 viewer; the viewer's, nobody's and a "
       "forged token's stop and send refused (403/401/401)")
    st, _, body = api.request("POST", "/api/actor/send?id=victim1",
                              body=b"hello", headers=auth(op))
    if st != 200:
        raise Fail("operator send: %d %.200r" % (st, body))
    until(lambda: (api.get("/api/actor?id=victim1")["actor"]["delivered"]
                   >= 1), 5, "victim1 got the operator's message")
    st, _, body = api.request("POST", "/api/actor/stop?id=victim1",
                              headers=auth(op))
    if st != 200:
        raise Fail("operator stop: %d %.200r" % (st, body))
    until(lambda: api.request("GET", "/api/actor?id=victim1")[0] == 404, 5,
          "victim1 stopped (404) after the operator's stop")
    ok("an operator's session sent to victim1 on n2, then stopped it")
    return op, viewer


# ---- (b) the page -----------------------------------------------------------
# Helpers prepended to every expression. The page marks rows with
# data-name (members) or data-id (actors) and cells with data-col
# (node/daemon/ui/app.js); a number is read from a cell's data-value when
# it has one, else from its text ("1,024", "1.2k", "3.5 M").
JS = r"""
const row = (table, attr, key) => document.querySelector(
  '#' + table + ' tbody tr[data-' + attr + '="' + CSS.escape(key) + '"]');
const cell = (tr, col) => tr && tr.querySelector('[data-col="' + col + '"]');
const text = el => el ? el.textContent.trim() : null;
const num = el => {
  if (!el) return NaN;
  if (el.dataset.value !== undefined) return Number(el.dataset.value);
  const m = text(el).replace(/[\s,\u2009\u202f]/g, '')
    .match(/^(-?[0-9.]+)([kMG]?)/);
  return m ? Number(m[1]) * {'': 1, k: 1e3, M: 1e6, G: 1e9}[m[2]] : NaN;
};
const stateOf = tr => {
  const c = cell(tr, 'state');
  const s = c && (c.dataset.value || text(c));
  const m = s && s.toLowerCase().match(/alive|suspect|dead|left/);
  return m ? m[0] : s;
};
const shown = id => { const v = document.getElementById(id);
  return !!v && !v.hidden && v.getClientRects().length > 0; };
"""


def js(expr):
    return "(() => {%s\nreturn (%s);})()" % (JS, expr)


def view(b, name, ready, artifacts, shot):
    """Shows view #name, waits for ready (JS), screenshots it."""
    b.eval("location.hash = %s" % json.dumps("#" + name))
    section = "view-" + name.split("/")[0]
    b.wait_for(js("shown(%s) && (%s)" % (json.dumps(section), ready)), 10,
               "view #%s ready" % name)
    time.sleep(0.3)  # a frame or two for the layout
    b.screenshot(os.path.join(artifacts, shot))
    ok("view #%s shown; %s/%s" % (name, artifacts, shot))


def check_page(b, api, procs, send, artifacts):
    url = "http://127.0.0.1:%d/" % api.port
    b.goto(url)
    b.wait_for(js("['n1','n2','n3'].every(n => row('members', 'name', n))"),
               10, "members table lists n1, n2, n3")
    b.wait_for(js("text(document.getElementById('node-name')) === 'n1'"), 5,
               "the serving node's name n1 in the header")
    errors = b.console_errors()
    if errors:
        raise Fail("console errors on load: %s" % errors)
    ok("page loaded without console errors; members n1, n2, n3")

    b.eval("location.hash = '#actors'")
    b.wait_for(js("text(cell(row('actors', 'id', 'sink'), 'node')) === 'n3'"),
               10, "actors table: sink on n3")
    ok("actors table: sink on n3")
    send("2000 sink")
    t0 = time.monotonic()
    q = b.wait_for(js("num(cell(row('actors', 'id', 'sink'), 'queued')) > 0 &&"
                      " num(cell(row('actors', 'id', 'sink'), 'queued'))"),
                   QUEUED_WITHIN_S, "sink's queued cell > 0 after a burst")
    ok("sink's queued cell shows %s %.1f s after the burst"
       % (q, time.monotonic() - t0))
    u0 = b.eval("window.troupeUI && window.troupeUI.updates")
    if not isinstance(u0, (int, float)):
        raise Fail("window.troupeUI.updates is %r, want a count" % u0)
    rate = b.wait_for(js("num(cell(row('actors', 'id', 'sink'), 'in_per_s'))"
                         " > 0 && window.troupeUI.updates >= %d && "
                         "num(cell(row('actors', 'id', 'sink'), 'in_per_s'))"
                         % (u0 + 2)), 10, "sink's in/s > 0, live")
    ok("sink's in/s %s, updates %d -> %d" % (
        rate, u0, b.eval("window.troupeUI.updates")))

    os.makedirs(artifacts, exist_ok=True)
    view(b, "cluster", "document.querySelectorAll('#members tbody tr')"
         ".length === 3 && document.querySelectorAll('#links tbody tr')"
         ".length > 0", artifacts, "cluster.png")
    view(b, "actors", "!!row('actors', 'id', 'sink')", artifacts, "actors.png")
    view(b, "actor/sink", "text(document.getElementById('actor-title'))"
         " === 'sink' && document.querySelectorAll('#actor-fields tr')"
         ".length > 0", artifacts, "actor-sink.png")
    view(b, "actor/watcher", "!!document.querySelector('#actor-monitoring "
         "tbody tr[data-id=\"sink\"]') && !!document.querySelector("
         "'#actor-dead-letters tbody tr[data-reason=\"rejected_full\"]"
         "[data-from=\"burster\"]') && text(document.querySelector("
         "'#actor-monitored-by tbody tr')) === 'none'", artifacts,
         "actor-watcher.png")
    view(b, "actor/echo-n2", "text(document.getElementById('actor-title'))"
         " === 'echo-n2' && ['#actor-monitored-by', '#actor-monitoring', "
         "'#actor-dead-letters'].every(t => text(document.querySelector(t + "
         "' tbody tr')) === 'none')", artifacts, "actor-echo-n2.png")
    view(b, "topics", "!!document.querySelector('#topics tbody "
         "tr[data-publisher=\"t1\"][data-subscriber=\"p2\"]')", artifacts,
         "topics.png")
    view(b, "groups", "!!document.querySelector('#groups tbody "
         "tr[data-group=\"workers\"]')", artifacts, "groups.png")

    # n3 killed: it goes suspect, then dead. Every state its row shows is
    # recorded as it changes.
    view(b, "cluster", "!!row('members', 'name', 'n3')", artifacts,
         "cluster-before-kill.png")
    b.eval(js("""(window.__n3 = [stateOf(row('members', 'name', 'n3'))],
      new MutationObserver(() => { const s = stateOf(row('members', 'name',
        'n3')); if (s && window.__n3[window.__n3.length - 1] !== s)
        window.__n3.push(s); }).observe(document.getElementById('members'),
        {subtree: true, childList: true, characterData: true,
         attributes: true}), true)"""))
    t0 = time.monotonic()
    procs.kill("n3")
    seen = b.wait_for("window.__n3.includes('dead') && window.__n3", 30,
                      "n3's row shows dead")
    b.screenshot(os.path.join(artifacts, "cluster-n3-dead.png"))
    took = time.monotonic() - t0
    # A kill -9 is suspect for about half a second (a refused dial, then
    # the failed probe): shorter than the page's one-second refresh, so
    # the row may skip it; n1's membership events say it either way, and
    # the Events tab shows them.
    states = [f.split()[1] for f in
              (line["fields"] for line in
               api.get("/api/events?limit=1000")["lines"]
               if line["event"] == "member")
              if f.split()[0] == "name=n3" and len(f.split()) > 1]
    if "state=suspect" not in states or "state=dead" not in states or \
            states.index("state=suspect") > \
            len(states) - 1 - states[::-1].index("state=dead"):
        raise Fail("n1's events for n3: %s, want suspect before dead" % states)
    if "suspect" in seen and seen.index("suspect") > seen.index("dead"):
        raise Fail("n3's row went %s: suspect after dead" % seen)
    # ... and the page's Events tab shows both.
    n3_events = """[...document.querySelectorAll(
        '#events tbody tr[data-seq][data-event="member"]')].map(tr =>
        [...tr.querySelectorAll('[data-col="fields"] .chip')].map(text))
      .filter(f => f.includes('name=n3'))"""
    view(b, "events", "((e) => e.some(f => f.includes('state=suspect')) && "
         "e.some(f => f.includes('state=dead')))(%s)" % n3_events, artifacts,
         "events-n3-killed.png")
    ok("n3 killed: its row went %s in %.1f s; n1's events %s" %
       (" -> ".join(seen), took, " -> ".join(states)))
    errors = b.console_errors()
    if errors:
        raise Fail("console errors: %s" % errors)
    ok("no console errors through the whole run")


LEVEL_RANK = {"error": 0, "warn": 1, "info": 2, "debug": 3}


def dead_total(api, reason):
    """reason's dead letters summed over the nodes that answer."""
    return sum(n.get("counters", {}).get("dead_" + reason, 0)
               for n in api.get("/api/cluster")["nodes"])


def check_page_lines(b, api, nodes, artifacts):
    """The Events and Log tabs, the members' rtt and health columns and the
    dead letters card (after check_page: n3 is dead by now)."""
    # Events: n1 logged n2 and n3 joining (they started after it).
    joined = [line for line in api.get("/api/events?limit=1000")["lines"]
              if line["event"] == "member" and "state=alive" in
              line["fields"].split() and ({"name=n2", "name=n3"} &
                                          set(line["fields"].split()))]
    if not joined:
        raise Fail("/api/events: no member line with state=alive for n2 or "
                   "n3")
    member_alive = ("""[...document.querySelectorAll(
        '#events tbody tr[data-seq][data-event="member"]')].map(tr =>
        [...tr.querySelectorAll('[data-col="fields"] .chip')].map(text))
      .filter(f => f.includes('state=alive') &&
        (f.includes('name=n2') || f.includes('name=n3')))""")
    view(b, "events", "%s.length > 0" % member_alive, artifacts,
         "events.png")
    got = b.eval(js(member_alive))
    seqs = b.eval(js("[...document.querySelectorAll('#events tbody "
                     "tr[data-seq]')].map(tr => Number(tr.dataset.seq))"))
    if seqs != sorted(seqs, reverse=True) or len(seqs) > 500:
        raise Fail("#events rows not newest first (or over 500): %s" % seqs)
    ok("#events: %d rows newest first; member %s" % (len(seqs),
                                                     " ".join(got[0])))
    b.eval("(f => { f.value = 'state=alive'; f.dispatchEvent(new Event("
           "'input')); })(document.getElementById('events-filter'))")
    shown = b.wait_for(js("""(rows => rows.length > 0 && rows.length <
        document.querySelectorAll('#events tbody tr').length &&
        rows.every(tr => tr.textContent.includes('state=alive')) &&
        rows.length)([...document.querySelectorAll('#events tbody tr')]
        .filter(tr => !tr.hidden))"""), 5, "#events filtered to state=alive")
    b.eval("(f => { f.value = ''; f.dispatchEvent(new Event('input')); })"
           "(document.getElementById('events-filter'))")
    ok("#events filter state=alive: %d rows shown, the others hidden" % shown)

    # Log: at info, the start line; at warn, no info line.
    started = ("[...document.querySelectorAll('#log tbody tr[data-seq]"
               "[data-level]')].some(tr => text(cell(tr, 'event')) === "
               "'run_started')")
    view(b, "log", "document.getElementById('log-level').value === 'info' "
         "&& " + started, artifacts, "log.png")
    levels = b.eval(js("[...document.querySelectorAll('#log tbody tr')]"
                       ".map(tr => tr.dataset.level)"))
    if not levels or any(LEVEL_RANK.get(lv, 9) > 2 for lv in levels):
        raise Fail("#log at info: levels %s" % sorted(set(levels)))
    ok("#log at info: %d lines, run_started among them" % len(levels))
    warns = len(api.get("/api/log?level=warn&limit=1000")["lines"])
    b.eval("(s => { s.value = 'warn'; s.dispatchEvent(new Event('change')); "
           "})(document.getElementById('log-level'))")
    rows = ("[...document.querySelectorAll('#log tbody tr')]"
            ".map(tr => tr.dataset.level)")
    if warns:
        b.wait_for(js("(l => l.length > 0 && l.every(v => v === 'warn' || "
                      "v === 'error'))(%s)" % rows), 5,
                   "#log at warn: warn and error lines only")
    time.sleep(1.5)  # a poll or two more: still no info line
    levels = b.eval(js(rows))
    if any(lv not in ("warn", "error") for lv in levels) or \
            (warns and not levels):
        raise Fail("#log at warn: levels %s (the API has %d lines)"
                   % (levels, warns))
    b.screenshot(os.path.join(artifacts, "log-warn.png"))
    ok("#log at warn: %d lines, none at info" % len(levels))
    b.eval("(s => { s.value = 'info'; s.dispatchEvent(new Event('change')); "
           "})(document.getElementById('log-level'))")

    # Members: n1's rtt to n2, each node's health.
    view(b, "cluster", "!!row('members', 'name', 'n2')", artifacts,
         "cluster-members.png")
    rtt = b.wait_for(js("""(r => num(cell(r('n2'), 'rtt')) > 0 &&
        text(cell(r('n1'), 'rtt')) === '\u2013' &&
        /^(ok|[0-9,]+)$/.test(text(cell(r('n2'), 'health'))) &&
        [text(cell(r('n2'), 'rtt')), text(cell(r('n1'), 'health')),
         text(cell(r('n2'), 'health'))])(n => row('members', 'name', n))"""),
        5, "members: n1's rtt to n2, the health column")
    if not re.match(r"^[0-9.]+ (ns|µs|ms|s)$", rtt[0]):
        raise Fail("members: n2's rtt shown %r" % rtt[0])
    ok("members: rtt to n2 %s, health n1 %s, n2 %s" % tuple(rtt))
    cert = b.wait_for(js("text(cell(row('members', 'name', 'n2'), 'cert'))"
                         " === 'n2 \u00b7 node' && text(cell(document."
                         "querySelector('#links tbody tr[data-node=\"n1\"]"
                         "[data-peer=\"n2\"]'), 'cipher'))"), 5,
                      "members: n2's certificate; links: n1 -> n2's cipher")
    if not cert.startswith("TLS-"):
        raise Fail("links: n1 -> n2's cipher shown %r" % cert)
    ok("members: n2's certificate n2 (node) on n1's link; cipher %s" % cert)

    # Dead letters: the card; a send to an id nobody holds counted.
    b.wait_for(js("shown('dead-card') && (shown('dead-none') || document."
                  "querySelectorAll('#dead-letters tbody tr[data-reason]')"
                  ".length > 0)"), 5, "the dead letters card")
    before = dead_total(api, "rejected_no_actor")
    try:
        nodes.send("nobody-holds-this-id", "hello")
        sent = "taken"
    except Fail as e:  # exit 1: no such actor; counted all the same
        why = re.search(r"exit \d+: (.*)", str(e), re.S)
        sent = "refused (%s)" % (why.group(1) if why else str(e)).strip()[:80]
    try:
        after = until(lambda: (lambda n: n > before and n)(
            dead_total(api, "rejected_no_actor")), 5,
            "dead_rejected_no_actor counted")
    except Fail:
        after = None
        print("skip: troupe send to an unknown id (%s) counted no dead "
              "letter" % sent)
    if after is not None:
        total = b.wait_for(js("""(tr => tr && num(cell(tr, 'total')) >= %d
            && shown('dead-chart-box') && !!document.querySelector(
              '#dead-legend [data-reason="rejected_no_actor"]') &&
            num(cell(tr, 'total')))(row('dead-letters', 'reason',
            'rejected_no_actor'))""" % after), 5,
            "#dead-letters: rejected_no_actor row")
        b.wait_for(js("document.querySelectorAll('#dead-chart polyline')"
                      ".length > 0"), 5, "#dead-chart has a line")
        time.sleep(0.3)
        b.screenshot(os.path.join(artifacts, "cluster-dead-letters.png"))
        ok("troupe send to an unknown id %s: dead letters rejected_no_actor "
           "%d -> %d, shown %s, with its line and legend"
           % (sent, before, after, total))
    errors = b.console_errors()
    if errors:
        raise Fail("console errors: %s" % errors)
    ok("no console errors in the events, log and dead letters checks")


def check_page_actions(b, api, tokens, artifacts):
    """The page with a viewer's session: its actions are disabled, and the
    node refuses the viewer's stop even when the page is bypassed; with an
    operator's: Stop stops victim2."""
    op, viewer = tokens
    base = "http://127.0.0.1:%d/" % api.port
    b.goto(base + "?as=viewer#session=" + viewer)
    b.wait_for(js("text(document.getElementById('session')) === 'v1 · viewer'"
                  " && !location.hash.includes('session')"), 10,
               "the header shows the viewer's session, the token off the URL")
    b.eval("location.hash = '#actor/victim2'")
    b.wait_for(js("!!document.querySelector('#actor-fields "
                  "tr[data-field=\"node\"]') && text(document."
                  "getElementById('act-who')) === 'as v1'"), 10,
               "victim2's detail, the actions card for v1")
    if not b.eval("document.getElementById('act-stop').disabled"):
        raise Fail("Stop is enabled for a viewer's session")
    status = b.eval("fetch('/api/actor/stop?id=victim2', {method: 'POST', "
                    "headers: {Authorization: 'Bearer ' + "
                    "sessionStorage.getItem('troupe.session')}})"
                    ".then(r => r.status)")
    if status != 403:
        raise Fail("the viewer's stop from the page: %r, want 403" % status)
    if not api.try_get("/api/actor?id=victim2"):
        raise Fail("victim2 gone after the viewer's stop")
    b.screenshot(os.path.join(artifacts, "actor-viewer.png"))
    ok("viewer v1 in the page: Stop disabled, its stop refused (403), "
       "victim2 still there")
    b.goto(base + "?as=operator#session=" + op)
    b.wait_for(js("text(document.getElementById('session')) === "
                  "'op1 · operator'"), 10, "the operator's session shown")
    b.eval("location.hash = '#actor/echo-n2'")
    b.wait_for(js("!document.getElementById('act-ask').disabled && "
                  "!!document.querySelector('#actor-fields tr[data-field="
                  "\"node\"]')"), 10, "Ask enabled for an operator")
    b.eval("document.getElementById('act-data').value = 'ping from the page';"
           "document.getElementById('act-ask').click()")
    got = b.wait_for(js("!document.getElementById('act-reply').hidden && "
                        "text(document.getElementById('act-reply'))"), 5,
                     "echo-n2's reply shown")
    if got != "ping from the page":
        raise Fail("the ask's reply shown: %r" % got)
    ok("operator op1 in the page: Ask to echo-n2 on n2 answered %r" % got)
    b.eval("location.hash = '#actor/victim2'")
    b.wait_for(js("!document.getElementById('act-stop').disabled"), 10,
               "Stop enabled for an operator")
    b.eval("document.getElementById('act-stop').click()")
    b.wait_for(js("text(document.getElementById('act-result')) === "
                  "'stop requested'"), 5, "the page says the stop was taken")
    b.screenshot(os.path.join(artifacts, "actor-operator-stop.png"))
    until(lambda: api.request("GET", "/api/actor?id=victim2")[0] == 404, 5,
          "victim2 stopped after the operator's Stop")
    ok("operator op1 in the page: Stop stopped victim2")


# ---- the cluster ------------------------------------------------------------
class Nodes:
    """`troupe run` nodes with certificates from `troupe cert`, and the
    operator verbs run as client op1."""

    def __init__(self, troupe, plugins, procs):
        self.troupe, self.plugins, self.procs = troupe, plugins, procs
        self.pki = os.path.join(procs.work, "certs")
        self.addrs = {}
        self.cli("cert", "ca", "--dir", self.pki)
        for n in ("n1", "n2", "n3"):
            self.cli("cert", "node", n, "--dir", self.pki)
        self.cli("cert", "client", "op1", "--dir", self.pki)
        self.cli("cert", "client", "v1", "--role", "viewer", "--dir",
                 self.pki)

    def cli(self, *argv):
        r = subprocess.run([self.troupe] + list(argv), env=self.procs.env,
                           capture_output=True, timeout=30)
        if r.returncode != 0:
            raise Fail("troupe %s: exit %d: %s" % (
                " ".join(argv), r.returncode, r.stderr.decode()[-500:]))
        return r.stdout.decode()

    def session(self, client):
        """An inspector session token for client (`troupe ui-login`)."""
        return self.cli("ui-login", "--node", self.addrs["n1"],
                        "--ca", os.path.join(self.pki, "ca.pem"),
                        "--cert", os.path.join(self.pki, client + ".pem"),
                        "--key", os.path.join(self.pki, client + ".key")
                        ).strip()

    def send(self, to, data):
        self.cli("send", to, data, "--node", self.addrs["n1"],
                 "--ca", os.path.join(self.pki, "ca.pem"),
                 "--cert", os.path.join(self.pki, "op1.pem"),
                 "--key", os.path.join(self.pki, "op1.key"))

    def start(self, name, *extra, ui=False):
        """Starts NAME (seeded by n1 unless it is n1) and waits for its
        start line; returns its --ui port. A port taken meanwhile: again on
        others, 3 times at most (tests/daemon/lib.sh start_node)."""
        line = "troupe run: name=%s " % name
        for _ in range(3):
            ports = free_ports(2)
            addr = "127.0.0.1:%d" % ports[0]
            argv = [self.troupe, "run", "--name", name, "--listen", addr,
                    "--ca", os.path.join(self.pki, "ca.pem"),
                    "--cert", os.path.join(self.pki, name + ".pem"),
                    "--key", os.path.join(self.pki, name + ".key")]
            for p in self.plugins:
                argv += ["--plugin", p]
            if name != "n1":
                argv += ["--seed", self.addrs["n1"]]
            if ui:
                argv += ["--ui", "127.0.0.1:%d" % ports[1]]
            p = self.procs.start(name, argv + list(extra))
            for _ in range(100):
                if p.poll() is not None or line in self.procs.read(name,
                                                                   ".out"):
                    break
                time.sleep(0.1)
            if line in self.procs.read(name, ".out"):
                self.addrs[name] = addr
                return ports[1]
            err = self.procs.read(name, ".err")
            if p.poll() is None:
                raise Fail("%s did not start within 10 s" % name)
            if not re.search(r"listen_failed|in use|EADDRINUSE", err, re.I):
                raise Fail("%s did not start (exit %d): %s"
                           % (name, p.returncode, err[-500:]))
            print("note: %s found a port taken; again on others" % name)
        raise Fail("%s found its ports taken 3 times" % name)


def check_ui_flag(troupe, procs, plugin):
    """--ui beyond loopback is refused at start; a bare port is
    127.0.0.1:PORT, and a local node answers for itself."""
    port = free_ports(1)[0]
    p = procs.start("refused", [troupe, "run", "--ui", "0.0.0.0:%d" % port])
    try:
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        raise Fail("troupe run --ui 0.0.0.0:%d still runs after 10 s" % port)
    err = procs.read("refused", ".err").strip()
    if rc == 0 or not err:
        raise Fail("--ui 0.0.0.0: exit %d, stderr %r" % (rc, err))
    procs.kill("refused")
    ok("--ui 0.0.0.0:%d refused at start (exit %d): %s"
       % (port, rc, err.splitlines()[-1][:100]))

    port = free_ports(1)[0]
    procs.start("local", [troupe, "run", "--ui", str(port), "--plugin",
                          plugin, "--spawn", "idle:i1"])
    api = Api(port)
    got = until(lambda: api.try_get("/api/actors"), 10,
                "a local node's /api/actors on 127.0.0.1:%d" % port)
    if [(a["id"], a["type"]) for a in got["actors"]] != [("i1", "idle")]:
        raise Fail("local node: /api/actors %.300r" % got)
    members = api.get("/api/cluster")["members"]
    if len(members) != 1 or not members[0]["self"]:
        raise Fail("local node: members %.300r" % members)
    procs.kill("local")
    ok("--ui %d (a bare port): a local node lists its own i1" % port)


def browser_missing(chromium):
    """Why the page cannot be checked here, or None."""
    if not os.access(chromium, os.X_OK):
        return "no %s (apt-get install chromium)" % chromium
    try:
        import websocket  # noqa: F401 (what cdp.py needs)
    except ImportError as e:
        return ("no websocket module for %s (apt-get install "
                "python3-websocket): %s" % (sys.executable, e))
    return None


def main():
    for var in ("TROUPE_BIN", "UI_PLUGIN", "PLUGIN_DIR"):
        if not os.environ.get(var):
            print("ui_test.py: %s is not set" % var, file=sys.stderr)
            return 2
    troupe = os.environ["TROUPE_BIN"]
    plugin = os.environ["UI_PLUGIN"]
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    work = tempfile.mkdtemp(prefix="troupe-ui-test.")
    artifacts = os.environ.get("UI_ARTIFACTS") or os.path.join(work,
                                                               "artifacts")
    procs = Procs(work)
    failed = True
    try:
        examples = os.environ["PLUGIN_DIR"]
        nodes = Nodes(troupe, [os.path.join(examples, "echo.so"),
                               os.path.join(examples, "ticker.so"), plugin],
                      procs)
        ui_port = nodes.start("n1", "--spawn", "ticker:t1:500",
                              "--spawn", "watch:watcher", ui=True)
        nodes.start("n2", "--spawn", "echo:echo-n2:groups=workers",
                    "--spawn", "printer:p2:t1",
                    "--spawn", "many:w:%d w" % MANY,
                    "--spawn", "idle:victim1", "--spawn", "idle:victim2")
        nodes.start("n3", "--spawn", "slow:sink:20",
                    "--spawn", "burst:burster")
        api = Api(ui_port)

        def three_up():  # and a full mesh: each node's 2 links up
            c = api.try_get("/api/cluster")
            if not c:
                return False
            alive = sum(m["state"] == "alive" for m in c["members"])
            meshed = sum(n["status"] == "ok" and sum(
                link.get("up") is True for link in n.get("links", [])) == 2
                for n in c["nodes"])
            return alive == 3 and meshed == 3
        until(three_up, 30, "/api/cluster shows 3 members alive, 3 nodes ok "
              "with their links up")
        until(lambda: api.try_get("/api/actor?id=sink"), 10,
              "/api/actor?id=sink found")
        ok("3 nodes up, n1 serving the inspector on 127.0.0.1:%d" % ui_port)

        def burst(data):
            nodes.send("burster", data)

        check_ui_flag(troupe, procs, plugin)
        check_cluster(api)
        check_actors(api)
        check_topics_groups(api)
        check_stream(api)
        check_headers(api)
        check_errors(api)
        check_burst_api(api, burst)
        check_monitors_dead_letters_api(api, nodes, burst)
        tokens = check_actions_api(api, nodes)

        why = browser_missing(chromium)
        if why:
            print("skip: the page's checks: " + why)
            failed = False
            return SKIP
        sys.dont_write_bytecode = True  # no __pycache__ in the source tree
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import cdp
        with cdp.Browser(chromium=chromium, log_path=os.path.join(
                work, "chromium.log")) as b:
            try:
                check_page(b, api, procs, burst, artifacts)
                check_page_lines(b, api, nodes, artifacts)
                check_page_actions(b, api, tokens, artifacts)
            except Exception:
                try:
                    os.makedirs(artifacts, exist_ok=True)
                    b.screenshot(os.path.join(artifacts, "failure.png"))
                    print("screenshot at failure: %s/failure.png" % artifacts)
                except Exception:
                    pass
                raise
        failed = False
        print("ok")
        return 0
    except Exception as e:  # Fail, CDPError, or a bug here: all fail the test
        if isinstance(e, Fail) or type(e).__name__ == "CDPError":
            print("FAIL: %s" % e)
        else:
            traceback.print_exc()
            print("FAIL: %r" % e)
        procs.tails()
        return 1
    finally:
        procs.kill_all()
        if failed:
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
