#!/usr/bin/env python3
"""ui_tls_test.py — the web inspector beyond loopback (docs/inspector.md,
Access): HTTPS on the node's certificate, for client certificates of the
cluster CA whose role is operator or viewer.

  (a) config: --ui 0.0.0.0:PORT on a local node is exit 2 with a clear
      line, from `troupe run` and from `troupe run --check` alike; on a
      cluster node --check takes it;
  (b) a cluster node n1 (certificates from `troupe cert`, a revocation
      list) with --ui 0.0.0.0:PORT and the echo actors victim and keeper:
      no client certificate: the handshake fails; a node certificate: 403
      to reads and to a stop; a viewer: /api/cluster 200 with n1 listed,
      its session from the certificate, the security headers and
      Strict-Transport-Security, a stop 403 (victim still there); a
      revoked viewer: the handshake fails; plain HTTP to the port: no
      answer; an operator: the stop works (victim gone, keeper not); a
      viewer revoked later (troupe cert revoke, SIGHUP): refused from
      then on; the refusals logged (http_tls_refused); n1 running
      throughout.

Exit 0 passed, 1 failed (the work directory is kept, the logs' tails
printed). Every wait is bounded in tries and time; the processes started
are killed at exit.

Environment: TROUPE_BIN, PLUGIN_DIR (echo.so).
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time


class Fail(Exception):
    pass


def ok(what):
    print("ok: " + what, flush=True)


def until(fn, timeout_s, what, interval=0.1):
    """fn() every interval until truthy (returned); Fail after timeout_s."""
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


def free_ports(n):
    """n ports free now, below the ephemeral range, at random (lib.sh)."""
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
            s.bind(("0.0.0.0", random.randrange(10000, hi) if hi > 11000
                    else 0))
            if s.getsockname()[1] not in got:
                got.append(s.getsockname()[1])
        except OSError:
            pass
        finally:
            s.close()
    raise Fail("no %d free ports" % n)


class Test:
    def __init__(self, troupe, plugins):
        self.troupe, self.plugins = troupe, plugins
        self.work = tempfile.mkdtemp(prefix="troupe-ui-tls.")
        self.pki = os.path.join(self.work, "certs")
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("TROUPE_")}
        self.node = None

    def cli(self, *argv):
        r = subprocess.run([self.troupe] + list(argv), env=self.env,
                           capture_output=True, timeout=30)
        if r.returncode != 0:
            raise Fail("troupe %s: exit %d: %s" % (
                " ".join(argv), r.returncode, r.stderr.decode()[-500:]))
        return r.stdout.decode()

    def log(self, name):
        try:
            with open(os.path.join(self.work, name), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def tails(self):
        for f in sorted(os.listdir(self.work)):
            if f.endswith((".out", ".err")):
                lines = self.log(f).splitlines()
                if lines:
                    print("--- %s/%s" % (self.work, f))
                    print("\n".join(lines[-25:]))

    def pem(self, name):
        return os.path.join(self.pki, name + ".pem")

    def node_args(self, listen):
        return ["--name", "n1", "--listen", listen, "--ca", self.pem("ca"),
                "--cert", self.pem("n1"), "--key",
                os.path.join(self.pki, "n1.key")]

    # ---- (a) the configuration ------------------------------------------
    def check_config(self):
        port = free_ports(1)[0]
        ui = "0.0.0.0:%d" % port
        for argv, what in ((["run", "--ui", ui], "troupe run"),
                           (["run", "--check", "--ui", ui],
                            "troupe run --check")):
            r = subprocess.run([self.troupe] + argv, env=self.env,
                               capture_output=True, timeout=20)
            err = r.stderr.decode().strip()
            if r.returncode != 2 or "local node" not in err or \
                    "loopback" not in err:
                raise Fail("%s --ui %s on a local node: exit %d, stderr %r"
                           % (what, ui, r.returncode, err))
            ok("%s --ui %s on a local node: exit 2: %s"
               % (what, ui, err[:110]))
        listen = "127.0.0.1:%d" % free_ports(1)[0]
        r = subprocess.run([self.troupe, "run", "--check", "--ui", ui]
                           + self.node_args(listen), env=self.env,
                           capture_output=True, timeout=20)
        if r.returncode != 0:
            raise Fail("--check --ui %s on a cluster node: exit %d: %s"
                       % (ui, r.returncode, r.stderr.decode()[-300:]))
        ok("troupe run --check --ui %s on a cluster node: exit 0" % ui)

    # ---- (b) the node ---------------------------------------------------
    def start_node(self):
        """n1 with --ui 0.0.0.0:PORT; a port taken meanwhile: again on
        others, 3 times at most."""
        line = "troupe run: name=n1 "
        for _ in range(3):
            p, u = free_ports(2)
            argv = [self.troupe, "run"] + self.node_args("127.0.0.1:%d" % p)
            argv += ["--crl", os.path.join(self.pki, "crl.pem"),
                     "--ui", "0.0.0.0:%d" % u,
                     "--plugin", os.path.join(self.plugins, "echo.so"),
                     "--spawn", "echo:victim", "--spawn", "echo:keeper"]
            with open(os.path.join(self.work, "n1.out"), "wb") as out, \
                    open(os.path.join(self.work, "n1.err"), "wb") as err:
                self.node = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                             stdout=out, stderr=err,
                                             env=self.env)
            for _ in range(100):
                if self.node.poll() is not None or line in self.log("n1.out"):
                    break
                time.sleep(0.1)
            if line in self.log("n1.out"):
                self.port = u
                return
            if self.node.poll() is None:
                raise Fail("n1 did not start within 10 s")
            if "in use" not in self.log("n1.err").lower():
                raise Fail("n1 did not start (exit %d): %s"
                           % (self.node.returncode, self.log("n1.err")[-500:]))
            print("note: n1 found a port taken; again on others")
        raise Fail("n1 found its ports taken 3 times")

    def alive(self, step):
        if self.node.poll() is not None:
            raise Fail("n1 exited (%d) after %s" % (self.node.returncode, step))

    def context(self, client):
        """A client context trusting the cluster CA, checking that the
        server is n1 (its certificate's DNS name), with client's
        certificate (None: none)."""
        ctx = ssl.create_default_context(cafile=self.pem("ca"))
        if client:
            ctx.load_cert_chain(self.pem(client),
                                os.path.join(self.pki, client + ".key"))
        return ctx

    def request(self, client, method, path):
        """(status, headers, body) over HTTPS as client; raises
        ssl.SSLError / OSError / HTTPException when refused."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        try:
            tls = self.context(client).wrap_socket(sock,
                                                   server_hostname="n1")
        except BaseException:
            sock.close()
            raise
        c = http.client.HTTPSConnection("n1", self.port, timeout=5)
        c.sock = tls  # connected already, to 127.0.0.1 as n1
        try:
            c.request(method, path, body=b"" if method == "POST" else None)
            r = c.getresponse()
            return (r.status, {k.lower(): v for k, v in r.getheaders()},
                    r.read())
        finally:
            c.close()

    def want(self, client, method, path, status):
        try:
            got = self.request(client, method, path)
        except (OSError, http.client.HTTPException) as e:
            raise Fail("%s %s as %s: %r" % (method, path, client, e))
        if got[0] != status:
            raise Fail("%s %s as %s: %d, want %d: %.300r"
                       % (method, path, client, got[0], status, got[2]))
        return got

    def refused(self, client, what):
        """The handshake as client fails: no HTTP answer."""
        try:
            got = self.request(client, "GET", "/api/cluster")
        except (OSError, http.client.HTTPException) as e:
            return e
        raise Fail("%s: answered %d: %.200r" % (what, got[0], got[2]))

    def actor_there(self, id):
        return self.request("op1", "GET", "/api/actor?id=" + id)[0] == 200

    def check_node(self):
        e = self.refused(None, "no client certificate")
        ok("no client certificate: refused at the handshake (%s)"
           % str(e)[:80])
        self.alive("a client without a certificate")

        for method, path in (("GET", "/api/cluster"),
                             ("POST", "/api/actor/stop?id=victim")):
            _, _, body = self.want("n1", method, path, 403)
        ok("a node certificate: 403 to GET /api/cluster and to a stop (%s)"
           % json.loads(body)["error"][:60])
        self.alive("a node certificate")

        _, headers, body = self.want("v1", "GET", "/api/cluster", 200)
        c = json.loads(body)
        if c["node"] != "n1" or [m["name"] for m in c["members"]] != ["n1"] \
                or [n["node"] for n in c["nodes"]] != ["n1"]:
            raise Fail("viewer: /api/cluster %.300r" % c)
        for h, v in (("strict-transport-security", "max-age="),
                     ("x-frame-options", "DENY"),
                     ("x-content-type-options", "nosniff"),
                     ("content-security-policy", "default-src 'self'"),
                     ("referrer-policy", "no-referrer")):
            if v not in headers.get(h, ""):
                raise Fail("viewer: header %s is %r" % (h, headers.get(h)))
        s = json.loads(self.want("v1", "GET", "/api/session", 200)[2])
        if (s["name"], s["role"]) != ("v1", "viewer"):
            raise Fail("viewer: /api/session %r" % s)
        _, _, body = self.want("v1", "POST", "/api/actor/stop?id=victim", 403)
        if not self.actor_there("victim"):
            raise Fail("victim gone after a viewer's stop")
        ok("a viewer: /api/cluster 200 with n1, the security headers and "
           "HSTS, session v1/viewer, a stop 403 (%s), victim still there"
           % json.loads(body)["error"][:50])

        e = self.refused("v2", "a revoked viewer")
        ok("a revoked viewer certificate: refused at the handshake (%s)"
           % str(e)[:80])

        try:
            pc = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            pc.request("GET", "/api/cluster")
            r = pc.getresponse()
            raise Fail("plain HTTP to the TLS port answered %d" % r.status)
        except (OSError, http.client.HTTPException) as e:
            ok("plain HTTP to the TLS port: no answer (%r)" % e)
        finally:
            pc.close()
        self.alive("plain HTTP")

        s = json.loads(self.want("op1", "GET", "/api/session", 200)[2])
        if (s["name"], s["role"]) != ("op1", "operator"):
            raise Fail("operator: /api/session %r" % s)
        self.want("op1", "POST", "/api/actor/stop?id=victim", 200)
        until(lambda: not self.actor_there("victim"), 5,
              "victim gone after the operator's stop")
        if not self.actor_there("keeper"):
            raise Fail("keeper gone with victim")
        ok("an operator (no token): the stop worked, victim gone, keeper "
           "there")
        if "event=inspector_action client=op1 role=operator action=stop " \
                "target=victim result=allowed" not in self.log("n1.err"):
            raise Fail("no inspector_action line for op1's stop")
        ok("the stop logged as op1's (inspector_action)")

        self.cli("cert", "revoke", "v1", "--dir", self.pki)
        self.node.send_signal(signal.SIGHUP)

        def v1_refused():
            try:
                self.request("v1", "GET", "/api/cluster")
                return False
            except (OSError, http.client.HTTPException) as e:
                return e or True
        until(v1_refused, 10, "v1 refused once revoked and reloaded")
        ok("v1 revoked (troupe cert revoke, SIGHUP): refused from then on")

        until(lambda: "event=http_tls_refused reason=no_cert"
              in self.log("n1.err"), 5, "the refusals logged")
        self.want("op1", "GET", "/api/cluster", 200)
        self.alive("everything")
        ok("refusals logged (http_tls_refused); n1 still running and "
           "answering")

        # A stream open over TLS while the node stops: it ends cleanly
        # (exit 0; under the sanitizers, nothing touched after its free).
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        tls = self.context("op1").wrap_socket(sock, server_hostname="n1")
        try:
            tls.sendall(b"GET /api/stream HTTP/1.1\r\nHost: n1\r\n\r\n")
            got = b""
            for _ in range(50):
                if b"event: update" in got:
                    break
                chunk = tls.recv(65536)
                if not chunk:
                    break
                got += chunk
            if not got.startswith(b"HTTP/1.1 200") or \
                    b"event: update" not in got:
                raise Fail("the stream over TLS: %.200r" % got)
            self.node.send_signal(signal.SIGTERM)
            try:
                rc = self.node.wait(timeout=10)
            except subprocess.TimeoutExpired:
                raise Fail("n1 still runs 10 s after SIGTERM")
            if rc != 0:
                raise Fail("n1 exited %d after SIGTERM with a stream open"
                           % rc)
        finally:
            tls.close()
        ok("a stream over TLS, then SIGTERM: n1 exited 0")

    def run(self):
        self.cli("cert", "ca", "--dir", self.pki)
        self.cli("cert", "node", "n1", "--dir", self.pki)
        self.cli("cert", "client", "op1", "--dir", self.pki)
        for v in ("v1", "v2"):
            self.cli("cert", "client", v, "--role", "viewer", "--dir",
                     self.pki)
        self.cli("cert", "revoke", "v2", "--dir", self.pki)
        self.check_config()
        self.start_node()
        self.check_node()

    def kill(self):
        if self.node and self.node.poll() is None:
            self.node.kill()
            try:
                self.node.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


def main():
    for var in ("TROUPE_BIN", "PLUGIN_DIR"):
        if not os.environ.get(var):
            print("ui_tls_test.py: %s is not set" % var, file=sys.stderr)
            return 2
    t = Test(os.environ["TROUPE_BIN"], os.environ["PLUGIN_DIR"])
    failed = True
    try:
        t.run()
        failed = False
    except Fail as e:
        print("FAIL: %s" % e, flush=True)
    finally:
        t.kill()
        if failed:
            t.tails()
            print("kept %s" % t.work)
        else:
            shutil.rmtree(t.work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
