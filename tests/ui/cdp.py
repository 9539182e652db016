"""cdp.py — a small Chrome DevTools Protocol driver for headless Chromium.

For the inspector's browser test (ui_test.py). Needs Debian's chromium and
python3-websocket (the `websocket` module of websocket-client), so run it
with /usr/bin/python3:

    with Browser() as b:
        b.goto("http://127.0.0.1:8080/")
        b.wait_for("document.querySelectorAll('#members tr').length > 3")
        b.screenshot("cluster.png")
        assert not b.console_errors()

Every wait is bounded; the browser (its whole process group) is killed and
its profile directory removed on exit, also when an exception leaves the
`with`. One page target, one WebSocket; events that arrive while a
command's reply is awaited are handled on the way (console errors kept,
load events noted).
"""
import base64
import ctypes
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import websocket  # Debian: python3-websocket


class CDPError(Exception):
    """A command failed, a wait ran out, or the page threw."""


_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():  # in the child, between fork and exec
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: we die, it dies


class Browser:
    def __init__(self, chromium="/usr/bin/chromium", width=1400, height=900,
                 timeout=30, log_path=None):
        self.chromium, self.width, self.height = chromium, width, height
        self.timeout = timeout  # the bound on any one command or load
        self.log_path = log_path  # chromium's stderr; None: discarded
        self.proc = self.ws = self.profile = None
        self._next_id = 0
        self._loads = 0  # Page.loadEventFired seen
        self._errors = []
        self._headers = {}

    # ---- life ---------------------------------------------------------------
    def __enter__(self):
        try:
            self._launch()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def _launch(self):
        self.profile = tempfile.mkdtemp(prefix="cdp-profile.")
        err = subprocess.DEVNULL
        if self.log_path:
            err = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                [self.chromium, "--headless=new", "--no-sandbox",
                 "--disable-gpu", "--remote-debugging-port=0",
                 "--user-data-dir=" + self.profile,
                 "--window-size=%d,%d" % (self.width, self.height),
                 "--no-first-run", "--no-default-browser-check",
                 "--disable-extensions", "--disable-background-networking",
                 "--disable-sync", "--disable-dev-shm-usage", "--mute-audio",
                 "--hide-scrollbars", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                start_new_session=True,  # its own group: killed as one
                preexec_fn=_die_with_parent)
        finally:
            if err is not subprocess.DEVNULL:
                err.close()
        port = self._devtools_port()
        page = self._until(lambda: next(
            (t for t in self._json(port, "/json/list")
             if t.get("type") == "page"), None), "a page target")
        self.ws = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=self.timeout,
            suppress_origin=True)  # Chromium refuses an unexpected Origin
        for domain in ("Page", "Runtime", "Log"):
            self.send(domain + ".enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)

    def _devtools_port(self):
        path = os.path.join(self.profile, "DevToolsActivePort")

        def read():
            if self.proc.poll() is not None:
                raise CDPError("chromium exited with %s before it listened"
                               % self.proc.returncode)
            try:
                with open(path) as f:
                    first = f.readline().strip()
                return int(first) if first else None
            except (OSError, ValueError):
                return None
        return self._until(read, "chromium's DevToolsActivePort")

    def _json(self, port, path):
        url = "http://127.0.0.1:%d%s" % (port, path)
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with direct.open(url, timeout=5) as r:
                return json.load(r)
        except (OSError, ValueError):
            return []

    def _until(self, fn, what):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            v = fn()
            if v:
                return v
            time.sleep(0.1)
        raise CDPError("no %s within %s s" % (what, self.timeout))

    def close(self):
        """Idempotent; never raises."""
        if self.ws is not None:
            try:
                self.ws.close(timeout=1)
            except Exception:
                pass
            self.ws = None
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    # ---- the protocol -------------------------------------------------------
    def send(self, method, timeout=None, **params):
        """Sends one command and returns its result; events meanwhile are
        handled. CDPError on an error reply or no reply in time."""
        self._next_id += 1
        cid = self._next_id
        self.ws.send(json.dumps({"id": cid, "method": method,
                                 "params": params}))
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            msg = self._recv(deadline)
            if msg is None:
                raise CDPError("%s: no reply within %s s"
                               % (method, timeout or self.timeout))
            if msg.get("id") == cid:
                if "error" in msg:
                    raise CDPError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})

    def _recv(self, deadline):
        """The next message, events handled; None at the deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        self.ws.settimeout(left)
        try:
            msg = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return None
        except (websocket.WebSocketException, OSError) as e:
            raise CDPError("the DevTools connection failed: %r" % e)
        if "method" in msg:
            self._on_event(msg["method"], msg.get("params", {}))
        return msg

    def _pump(self, seconds):
        """Handles events for `seconds` (a sleep that keeps up)."""
        deadline = time.monotonic() + seconds
        while self._recv(deadline) is not None:
            pass

    def _on_event(self, method, p):
        if method == "Page.loadEventFired":
            self._loads += 1
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            text = d.get("exception", {}).get("description") or d.get("text")
            self._errors.append("uncaught: %s (%s:%s)" % (
                text, d.get("url", "?"), d.get("lineNumber", "?")))
        elif method == "Runtime.consoleAPICalled" and p.get("type") in (
                "error", "assert"):
            args = [a.get("value", a.get("description", a.get("type")))
                    for a in p.get("args", [])]
            self._errors.append("console.%s: %s" % (
                p["type"], " ".join(str(a) for a in args)))
        elif method == "Log.entryAdded":
            e = p.get("entry", {})
            if e.get("level") == "error":
                self._errors.append("log(%s): %s %s" % (
                    e.get("source"), e.get("text"), e.get("url", "")))

    # ---- what tests call ----------------------------------------------------
    def goto(self, url, timeout=None):
        """Navigates and waits for the load event."""
        loads = self._loads
        r = self.send("Page.navigate", url=url)
        if r.get("errorText"):
            raise CDPError("goto %s: %s" % (url, r["errorText"]))
        deadline = time.monotonic() + (timeout or self.timeout)
        while self._loads == loads:
            if self._recv(deadline) is None:
                raise CDPError("goto %s: no load event within %s s"
                               % (url, timeout or self.timeout))

    def eval(self, js, timeout=None):
        """The value of expression js (a promise is awaited); CDPError if
        it throws."""
        r = self.send("Runtime.evaluate", timeout=timeout, expression=js,
                      returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            why = d.get("exception", {}).get("description") or d.get("text")
            raise CDPError("eval %r: %s" % (js[:80], why))
        return r.get("result", {}).get("value")

    def wait_for(self, js, timeout_s=10, what=None):
        """Evaluates js every 100 ms until it is truthy; returns that value.
        A throw counts as not yet. CDPError with the last value or error
        after timeout_s."""
        deadline = time.monotonic() + timeout_s
        last = None
        while True:
            try:
                left = deadline - time.monotonic()
                last = self.eval(js, timeout=min(self.timeout, max(1, left)))
                if last:
                    return last
            except CDPError as e:
                last = e
            if time.monotonic() >= deadline:
                raise CDPError("%s not true within %s s; last: %r"
                               % (what or js, timeout_s, last))
            self._pump(0.1)

    def screenshot(self, path):
        """The viewport as PNG at path."""
        r = self.send("Page.captureScreenshot", format="png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    def console_errors(self):
        """Console errors, uncaught exceptions and error log entries (a
        failed load, a CSP violation) since the start, as strings."""
        self._pump(0.2)  # take what is on its way
        return list(self._errors)

    def set_extra_headers(self, headers):
        """Headers sent with every request of the page from now on."""
        self._headers = dict(headers)
        self.send("Network.enable")
        self.send("Network.setExtraHTTPHeaders", headers=self._headers)

    def set_header(self, name, value):
        self.set_extra_headers(dict(self._headers, **{name: value}))
