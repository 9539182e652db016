#!/usr/bin/env python3
"""readme_test.py TROUPE SRC BUILD — ctest deploy.readme (issue 19): every
command of README.md's ```sh blocks, run as written, in a temporary copy of
the repository whose `build` is BUILD, and the tour's ```c program compiled
and linked against BUILD's library.

Each command must match an entry of RULES, which says how to run it and what
shows that it worked (a one-shot exits 0 and prints what the README says; a
long-running one is started, its output checked, then stopped), or of the
not-run entries, which say why it is not run here. A README command no entry
knows fails the test, so a README change brings its test along. One line per
command: ok, not run (why) or FAIL.

Docker commands run when an engine and debian:bookworm-slim are there, under
a compose project of the test's own (COMPOSE_PROJECT_NAME), with Compose v1
`docker-compose` written for `docker compose` only when v2 is absent; they
end with the README's own `down -v`, and the project's images are removed.
The README's fixed ports (7001, 7002, 9101..9103) must be free.
Exit 0 all ran; 1 a failure; 77 nothing failed but some commands could not
run here (no docker engine, a port in use), each said; TROUPE_REQUIRE_DOCKER=1
makes a missing docker a failure. Every wait is bounded, and every process
started is killed (its process group) at the end."""
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time

DEADLINE_S = 250  # for the commands; cleanup follows (ctest TIMEOUT 300)
POLL_S = 0.25
DOCKER_LABEL = "com.docker.compose.project"
COMPOSE_SERVICES = ("certs", "n1", "n2", "n3", "ops")

T0 = time.monotonic()


def left():
    return DEADLINE_S - (time.monotonic() - T0)


def norm(cmd):
    return re.sub(r"\s+", " ", cmd).strip()


# ---- what each README command is, and what shows that it worked ----------

def rule(cmd, kind, **kw):
    kw.update(cmd=cmd, kind=kind)
    kw.setdefault("needs", None)
    kw.setdefault("ports", ())
    kw.setdefault("tools", ())  # programs it needs besides troupe and bash
    kw.setdefault("used", 0)
    return kw


def setenv(cmd):
    """VAR=value or export: run, its variables kept for the block's later lines."""
    return rule(cmd, "env")


def once(cmd, expect=(), absent=(), until=0, timeout=30,
         leaves_nothing=False, **kw):
    """A one-shot: exit 0, each `expect` regex in its output, no `absent`
    one; with `until`, retried (every 0.5 s, that many seconds at most)
    until so, for what the cluster needs a moment to converge on.
    leaves_nothing: afterwards the compose project has no container,
    volume or network left."""
    return rule(cmd, "once", expect=expect, absent=absent, until=until,
                timeout=timeout, leaves_nothing=leaves_nothing, **kw)


def background(cmd, ready, timeout=15, **kw):
    """`cmd &`: started, `ready` awaited in its output; SIGTERM at the end
    of the block, after which it must exit 0 (README: SIGTERM exits 0)."""
    return rule(cmd, "background", ready=ready, timeout=timeout, **kw)


def stream(cmd, ready, timeout=30, tty=False, baseline=None, stop_rc=None,
           **kw):
    """A command that runs until Ctrl-C: started, `ready` awaited in its
    output (with `baseline`, a command of the test's own whose count of
    `ready` lines the stream must pass: new lines, not only history), then
    SIGINT. `tty`: on a pseudo-terminal (watch draws a screen)."""
    return rule(cmd, "stream", ready=ready, timeout=timeout, tty=tty,
                baseline=baseline, stop_rc=stop_rc, **kw)


def not_run(cmd, why):
    return rule(cmd, "not_run", why=why)


T = "$B/node/daemon/troupe"
DC = "docker compose -f docker/compose.yml"
DC_LOGS_N2 = DC + " logs --no-color n2"  # the test's own, for a baseline
P2_PRINTS_T1 = r"\[p2\] prices: t1 \d"

RULES = [
    # ---- Set up
    not_run("bash deploy/dev.sh demo",
            "deploy.demo runs its script (deploy/demo.sh) against this build "
            "(tests/deploy/demo_test.sh); the rest is apt and a build into "
            "build-demo/"),
    not_run("bash deploy/dev.sh test",
            "runs the whole test suite, this test included: it would recurse"),
    not_run(re.compile(r"bash deploy/dev\.sh (bench|soak)\b.*"),
            "a benchmark of many minutes, not a test"),
    # ---- The troupe daemon
    setenv("B=build"),
    stream(T + " run --plugin $B/plugins/echo.so --spawn echo:echo1 "
           "--plugin $B/plugins/ticker.so --spawn ticker:t1:500 "
           "--spawn printer:p1:t1",
           ready=(r"^echo: echo1 ready", r"^\[p1\] prices: t1 \d"),
           timeout=15, stop_rc=0),
    once(T + " cert ca && " + T + " cert node n1 && " + T + " cert node n2 && "
         + T + " cert client ops",
         expect=(r"^certs/ca\.pem ", r"^certs/n1\.key ", r"^certs/n2\.key ",
                 r"^certs/ops\.key ")),
    background(T + " run --name n1 --listen 127.0.0.1:7001 --ca certs/ca.pem "
               "--cert certs/n1.pem --key certs/n1.key --metrics 9101 "
               "--plugin $B/plugins/echo.so --spawn echo:echo1:groups=workers &",
               ready=(r"event=run_started name=n1 ",), ports=(7001, 9101)),
    background(T + " run --name n2 --listen 127.0.0.1:7002 --seed "
               "127.0.0.1:7001 --ca certs/ca.pem --cert certs/n2.pem "
               "--key certs/n2.key --tag zone=a &",
               ready=(r"event=member name=n1 state=alive",), ports=(7002,)),
    setenv("export TROUPE_OPS_CA=certs/ca.pem TROUPE_OPS_CERT=certs/ops.pem "
           "TROUPE_OPS_KEY=certs/ops.key"),
    once(T + " members --node 127.0.0.1:7002",
         expect=(r"^n1 +alive ", r"^n2 +alive "), until=10),
    once(T + " members --state alive --tag zone=a --node 127.0.0.1:7002",
         expect=(r"^n2 +alive +127\.0\.0\.1:7002 +zone=a ",),
         absent=(r"^n1 ",)),
    once(T + " ask echo1 hello --node 127.0.0.1:7002", expect=(r"^hello$",),
         until=10),
    once(T + " groups --json --node 127.0.0.1:7002",
         expect=(r'"group":"workers","id":"echo1","node":"n1"',), until=10),
    once(T + " ask --group workers hi --node 127.0.0.1:7002",
         expect=(r"^hi$",), until=10),
    once(T + " info --node 127.0.0.1:7002",
         expect=(r"^name +n2$", r"^version +\d", r"^certificate +CN=n2,")),
    # ---- Cluster in Docker
    once(DC + " up -d --build", timeout=200, needs="docker",
         ports=(9101, 9102, 9103)),
    once(DC + " run --rm ops members --node n1:7000", needs="docker",
         expect=(r"^n1 +alive ", r"^n2 +alive ", r"^n3 +alive "), until=60,
         timeout=60),
    once(DC + " run --rm ops actors --node n3:7000", needs="docker",
         expect=(r"^echo-n3 ", r"^t3 "), until=30),
    once(DC + " run --rm ops ask echo-n1 hello --node n3:7000", needs="docker",
         expect=(r"^hello\r?$",), until=30),
    once(DC + " run --rm ops send echo-n3 hi --node n2:7000", needs="docker"),
    once(DC + " run --rm ops ask echo-n3 count --node n1:7000",
         needs="docker", expect=(r"^1\r?$",), until=10),
    stream(DC + " run --rm ops sub t1 prices --node n3:7000", needs="docker",
           ready=(r"^t1 \d+\.\d+",)),
    stream(DC + " logs -f n2", needs="docker", ready=(P2_PRINTS_T1,),
           baseline=DC_LOGS_N2),
    once("curl -s 127.0.0.1:9101/metrics | grep troupe_", needs="docker",
         tools=("curl",),
         expect=(r"^troupe_",), until=20),
    once(DC + " kill n1", needs="docker"),
    stream("watch -n1 " + DC + " run --rm ops members --node n2:7000",
           needs="docker", tools=("watch",), tty=True,
           ready=(r"Every 1\.0s", r"dead"),
           timeout=45),
    once(DC + " run --rm ops actors --node n2:7000", needs="docker",
         expect=(r"^echo-n2 ",), absent=(r"^echo-n1 ", r"^t1 "), until=20),
    once(DC + " start n1", needs="docker"),
    # The same line as before: here the prices must come again, after n1's
    # restart, beyond what `logs` already held.
    stream(DC + " logs -f n2", needs="docker", ready=(P2_PRINTS_T1,),
           baseline=DC_LOGS_N2, timeout=45),
    once(DC + " down -v", needs="docker", timeout=60, leaves_nothing=True),
    # ---- Kubernetes: a README line of kubectl is listed, never run
    not_run(re.compile(r"kubectl\b.*"), "no Kubernetes cluster here"),
]


def find_rule(cmd, taken):
    """The entry for cmd: of those that match, the first not yet taken by
    an earlier README line (a line written twice has an entry per time,
    each with its own check); a pattern entry serves any number."""
    n = norm(cmd)
    hits = [r for r in RULES if (r["cmd"].fullmatch(n)
                                 if isinstance(r["cmd"], re.Pattern)
                                 else norm(r["cmd"]) == n)]
    for r in hits:
        if isinstance(r["cmd"], re.Pattern) or id(r) not in taken:
            taken.add(id(r))
            return r
    return hits[-1] if hits else None


# ---- README.md: fenced blocks, split into commands ------------------------

def fenced_blocks(text):
    """(language, line number of the first line, lines) per ``` block."""
    blocks, cur = [], None
    for no, line in enumerate(text.splitlines(), 1):
        m = re.match(r"^```(\S*)\s*$", line)
        if m and cur is None:
            cur = (m.group(1), no + 1, [])
        elif line.startswith("```") and cur is not None:
            blocks.append(cur)
            cur = None
        elif cur is not None:
            cur[2].append(line)
    if cur is not None:
        raise ValueError("README.md: a ``` block opened at line %d is never "
                         "closed" % (cur[1] - 1))
    return blocks


def strip_comment(line):
    """The line without its shell comment; the open quote, if any, at its end."""
    out, q, i = [], None, 0
    while i < len(line):
        c = line[i]
        if q:
            if c == q:
                q = None
            elif c == "\\" and q == '"' and i + 1 < len(line):
                out.append(c)
                i += 1
                c = line[i]
        elif c in "'\"":
            q = c
        elif c == "\\" and i + 1 < len(line):
            out.append(c)
            i += 1
            c = line[i]
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            break
        out.append(c)
        i += 1
    return "".join(out).rstrip(), q


def split_commands(first_no, lines):
    """(line number, command) per command: a trailing backslash continues
    it, comments go, blank lines go."""
    cmds, cur, at = [], "", None
    for no, line in enumerate(lines, first_no):
        text, quote = strip_comment(line)
        if quote:
            raise ValueError("README.md:%d: a quote left open (%s); the test "
                             "splits commands line by line" % (no, quote))
        if not text.strip() and not cur:
            continue
        if at is None:
            at = no
        if text.endswith("\\"):
            cur += text[:-1] + " "
            continue
        cur += text
        cmds.append((at, norm(cur)))
        cur, at = "", None
    if cur:
        raise ValueError("README.md:%d: the last command ends with a "
                         "backslash" % at)
    return cmds


# ---- processes -------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]"
                  r"|\x1b\][^\x07]*\x07|[\x0e\x0f]")


class Proc:
    """One command in a session (process group) of its own, its output in
    a file, or read from a pseudo-terminal."""

    def __init__(self, cmd, env, cwd, log, tty=False):
        self.cmd, self.log, self.buf, self.master = cmd, log, b"", None
        if tty:
            self.master, slave = pty.openpty()
            fcntl.ioctl(slave, termios.TIOCSWINSZ,
                        struct.pack("HHHH", 40, 160, 0, 0))
            env = dict(env, TERM=env.get("TERM") or "xterm")
            if env["TERM"] == "dumb":
                env["TERM"] = "xterm"
            self.p = subprocess.Popen(["bash", "-c", cmd], stdin=slave,
                                      stdout=slave, stderr=slave, env=env,
                                      cwd=cwd, start_new_session=True)
            os.close(slave)
        else:
            with open(log, "wb") as f:
                self.p = subprocess.Popen(["bash", "-c", cmd],
                                          stdin=subprocess.DEVNULL, stdout=f,
                                          stderr=subprocess.STDOUT, env=env,
                                          cwd=cwd, start_new_session=True)

    def text(self):
        if self.master is not None:
            while select.select([self.master], [], [], 0)[0]:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self.buf += chunk
            return ANSI.sub("", self.buf.decode("utf-8", "replace"))
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.p.poll() is None

    def kill_group(self, sig):
        try:
            os.killpg(self.p.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, sig=signal.SIGINT, grace=10):
        """sig to the group, then KILL after grace seconds; the exit status,
        None when it had to be killed."""
        rc = self.p.poll()
        if rc is None:
            self.kill_group(sig)
            try:
                rc = self.p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                rc = None
        # Whatever it started in its group goes too.
        self.kill_group(signal.SIGKILL)
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self.master is not None:
            self.text()
            os.close(self.master)
            self.master = None
        return rc


def run_once(cmd, env, cwd, timeout):
    """(exit status or None on timeout, output)."""
    p = subprocess.Popen(["bash", "-c", cmd], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=env, cwd=cwd, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=max(1, timeout))
        rc = p.returncode
    except subprocess.TimeoutExpired:
        rc = None
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if rc is None:
        out, _ = p.communicate()
    return rc, out.decode("utf-8", "replace")


def tail(text, n=15):
    lines = text.rstrip().splitlines()[-n:]
    return "".join("      | %s\n" % ln for ln in lines)


def port_in_use(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


# ---- the temporary repository root -----------------------------------------

def make_root(src, build, root):
    """The repository's files (git's view of the work tree, or the tree
    without .git and build directories) copied into root, `build` a link to
    BUILD: docker build needs real files, not links out of its context."""
    files = None
    if os.path.isdir(os.path.join(src, ".git")):
        r = subprocess.run(["git", "-C", src, "ls-files", "-z", "--cached",
                            "--others", "--exclude-standard"],
                           capture_output=True, timeout=30)
        if r.returncode == 0:
            files = [f for f in r.stdout.decode().split("\0") if f]
    if files is None:
        files = []
        for d, dirs, names in os.walk(src):
            rel = os.path.relpath(d, src)
            dirs[:] = [x for x in dirs if x != ".git" and not (
                rel == "." and (x.startswith("build") or x == "certs"))]
            files += [os.path.normpath(os.path.join(rel, x)) for x in names]
    for f in files:
        s = os.path.join(src, f)
        if not os.path.isfile(s) or f == "build" or f.startswith("build/"):
            continue  # deleted in the work tree, or ours to provide
        os.makedirs(os.path.join(root, os.path.dirname(f)), exist_ok=True)
        shutil.copy2(s, os.path.join(root, f), follow_symlinks=False)
    os.symlink(os.path.abspath(build), os.path.join(root, "build"))


# ---- docker ------------------------------------------------------------------

def docker_state():
    """(None, v1) when docker compose commands can run here, v1 True when
    only `docker-compose` (Compose v1) is there; else (reason, False)."""
    if os.environ.get("TROUPE_DOCKER_TESTS") == "0":
        return "TROUPE_DOCKER_TESTS=0 turns the docker commands off", False
    if not shutil.which("docker"):
        return "no docker client on PATH", False
    if run_once("docker info", os.environ, "/", 20)[0] != 0:
        return "no docker engine reachable", False
    if run_once("docker image inspect debian:bookworm-slim", os.environ, "/",
                20)[0] != 0:
        return "no debian:bookworm-slim image (pull it, or "\
               "../shared/env/base-image.sh)", False
    if run_once("docker compose version", os.environ, "/", 20)[0] == 0:
        return None, False
    if shutil.which("docker-compose"):
        return None, True
    return "neither docker compose (v2) nor docker-compose (v1)", False


def compose_leftovers(project):
    """What the project still has in the engine: containers, volumes,
    networks (by compose's label)."""
    found = []
    for what in ("ps -a", "volume ls", "network ls"):
        rc, out = run_once("docker %s -q --filter label=%s=%s"
                           % (what, DOCKER_LABEL, project), os.environ, "/", 30)
        if out.strip():
            found.append("%s: %s" % (what.split()[0], " ".join(out.split())))
    return found


def compose_teardown(project, compose, root):
    env = dict(os.environ, COMPOSE_PROJECT_NAME=project)
    run_once(compose + " -f docker/compose.yml down -v --remove-orphans -t 5",
             env, root, 120)
    for what, rm in (("ps -a", "rm -f"), ("volume ls", "volume rm -f"),
                     ("network ls", "network rm")):
        run_once("docker %s -q --filter label=%s=%s | xargs -r docker %s"
                 % (what, DOCKER_LABEL, project, rm), os.environ, "/", 60)
    # compose names the images it builds after the project (v1 `_`, v2 `-`).
    tags = " ".join("%s_%s %s-%s" % (project, s, project, s)
                    for s in COMPOSE_SERVICES)
    run_once("docker rmi %s" % tags, os.environ, "/", 60)


# ---- the C tour ----------------------------------------------------------------

def cmake_cache(build, key):
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            for line in f:
                m = re.match(r"^%s(?::[A-Z]+)?=(.*)$" % re.escape(key), line)
                if m:
                    return m.group(1).strip()
    except OSError:
        pass
    return ""


def compile_tour(src, build, code, work):
    """(ok, what happened): the program compiled with the project's warnings
    as errors and linked against BUILD's libtroupe.so."""
    cc = cmake_cache(build, "CMAKE_C_COMPILER") or "cc"
    lib = os.path.join(build, "libtroupe.so")
    c_file = os.path.join(work, "tour.c")
    with open(c_file, "w") as f:
        f.write(code)
    args = [cc, "-std=c11", "-Wall", "-Wextra", "-Werror",
            "-I", os.path.join(src, "include"), c_file]
    sanitize = cmake_cache(build, "TR_SANITIZE")
    if sanitize:
        args.append("-fsanitize=" + sanitize)
    if os.path.exists(lib):
        args += ["-o", os.path.join(work, "tour"), lib,
                 "-Wl,-rpath," + os.path.abspath(build)]
        did = "compiled (-Wall -Wextra -Werror) and linked against " + lib
    else:
        args += ["-c", "-o", os.path.join(work, "tour.o")]
        did = "compiled (-Wall -Wextra -Werror); not linked: no " + lib
    r = subprocess.run(args, capture_output=True, timeout=60)
    if r.returncode != 0:
        return False, "%s exited %d\n%s" % (" ".join(args), r.returncode,
                                            tail(r.stderr.decode(), 25))
    return True, did + "; not run: its main runs until an actor stops the "\
                       "node, which the tour leaves out"


# ---- the run ---------------------------------------------------------------

class Run:
    def __init__(self, src, build, base):
        self.src, self.build, self.base = src, build, base
        self.root = os.path.join(base, "repo")
        self.logs = os.path.join(base, "logs")
        os.makedirs(self.logs)
        self.procs = []
        self.failed = 0
        self.env_skips = []  # (what, why): could not run here
        self.nlog = 0
        self.project = "trreadme%dx%d" % (os.getpid(), int(time.time()) % 10000)
        self.docker_used = False
        self.taken = set()  # the RULES entries earlier lines matched
        self.compose = "docker compose"

    def say(self, status, no, cmd, note=""):
        print("[%5.1fs] %-8s L%-4s %s%s" % (time.monotonic() - T0, status, no,
                                            cmd, ("\n         -> " + note)
                                            if note else ""), flush=True)

    def logfile(self):
        self.nlog += 1
        return os.path.join(self.logs, "cmd%02d.out" % self.nlog)

    def base_env(self):
        """The caller's environment without TROUPE_* or COMPOSE_* settings,
        which would stand in for what the README's lines must say."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TROUPE_", "COMPOSE_"))}
        env["COMPOSE_PROJECT_NAME"] = self.project
        return env

    def as_run(self, r, cmd):
        if r["needs"] == "docker" and self.compose != "docker compose":
            return re.sub(r"\bdocker compose\b", self.compose, cmd)
        return cmd

    # Each returns (why it failed or None, what it showed).
    def do_env(self, cmd, env):
        rc, out = run_once("set -a\n%s\nenv -0" % cmd, env, self.root, 10)
        if rc != 0:
            return "exited %s\n%s" % (rc, tail(out)), ""
        new = dict(kv.split("=", 1) for kv in out.split("\0") if "=" in kv)
        for k in ("_", "SHLVL", "PWD", "OLDPWD"):
            new.pop(k, None)
        changed = sorted(k for k in new if env.get(k) != new[k])
        env.clear()
        env.update(new)
        return None, "kept for the block's later lines: " + " ".join(
            "%s=%s" % (k, new[k]) for k in changed)

    def check_text(self, out, expect, absent):
        miss = [e for e in expect if not re.search(e, out, re.M)]
        extra = [a for a in absent if re.search(a, out, re.M)]
        if miss or extra:
            return ("no %s in its output" % ", ".join(map(repr, miss))
                    if miss else "") + \
                   ("; %s in its output" % ", ".join(map(repr, extra))
                    if extra else "")
        return None

    def do_once(self, r, cmd, env):
        end = time.monotonic() + min(r["until"], left())
        tries = 0
        while True:
            tries += 1
            rc, out = run_once(cmd, env, self.root,
                               min(r["timeout"], max(1, left())))
            why = ("timed out after %d s" % r["timeout"] if rc is None else
                   "exited %d" % rc if rc != 0 else
                   self.check_text(out, r["expect"], r["absent"]))
            if why is None:
                shown = ", ".join(r["expect"])
                gone = ", ".join(r["absent"])
                return None, "; ".join(x for x in (
                    "showed " + shown if shown else "",
                    "not " + gone if gone else "",
                    "after %d tries" % tries if tries > 1 else "") if x)
            if time.monotonic() + 0.5 >= end or left() < 1:
                return "%s%s\n%s" % (why, " (%d tries, %d s)" % (
                    tries, r["until"]) if tries > 1 else "", tail(out)), ""
            time.sleep(0.5)

    def wait_ready(self, p, ready, timeout, need=1, baseline=0):
        """None once every `ready` regex is in p's output (the first one
        need + baseline times), else why not."""
        end = time.monotonic() + min(timeout, max(1, left()))
        while True:
            out = p.text()
            counts = [len(re.findall(e, out, re.M)) for e in ready]
            if counts[0] >= baseline + need and all(counts):
                return None
            if not p.alive():
                return "exited %s before it showed %s\n%s" % (
                    p.p.returncode, ready, tail(p.text()))
            if time.monotonic() >= end:
                return "no %s within %d s%s\n%s" % (
                    ", ".join(repr(e) for e, c in zip(ready, counts) if not c)
                    or "new %r (%d before, %d now)" % (ready[0], baseline,
                                                       counts[0]),
                    timeout, "" if p.alive() else " (exited)", tail(out))
            time.sleep(POLL_S)

    def do_background(self, r, cmd, env, block_procs):
        p = Proc(cmd.rstrip().rstrip("&"), env, self.root, self.logfile())
        self.procs.append(p)
        block_procs.append(p)
        why = self.wait_ready(p, r["ready"], r["timeout"])
        return why, "" if why else "running (pid %d); stopped with the block" \
            % p.p.pid

    def do_stream(self, r, cmd, env):
        base = 0
        if r["baseline"]:
            rc, out = run_once(self.as_run(r, r["baseline"]), env, self.root,
                               30)
            base = len(re.findall(r["ready"][0], out, re.M))
        p = Proc(cmd, env, self.root, self.logfile(), tty=r["tty"])
        self.procs.append(p)
        why = self.wait_ready(p, r["ready"], r["timeout"],
                              baseline=base)
        rc = p.stop(signal.SIGINT)
        if why:
            return why, ""
        if r["stop_rc"] is not None and rc != r["stop_rc"]:
            return "exited %s after Ctrl-C (SIGINT), not %d\n%s" % (
                rc, r["stop_rc"], tail(p.text())), ""
        return None, "showed %s%s; stopped with Ctrl-C (SIGINT): %s" % (
            ", ".join(r["ready"]), " beyond the %d lines `logs` held before"
            % base if r["baseline"] else "",
            "exit %s" % rc if rc is not None else "killed")

    def stop_block(self, block_procs):
        """The block's `&` processes, with SIGTERM: each must exit 0."""
        bad = []
        for p in block_procs:
            rc = p.stop(signal.SIGTERM)
            if rc != 0:
                bad.append("`%s` exited %s on SIGTERM\n%s"
                           % (p.cmd, rc, tail(p.text())))
        return bad

    def run_block(self, first_no, cmds, docker_why):
        env = self.base_env()
        block_procs, blocked = [], None
        matched = [(no, cmd, find_rule(cmd, self.taken)) for no, cmd in cmds]
        # The README's fixed ports, checked before the block starts.
        for no, cmd, r in matched:
            if r is None or r["kind"] == "not_run" or blocked:
                continue
            if r["needs"] == "docker" and docker_why:
                continue
            busy = [p for p in r["ports"] if port_in_use(p)]
            if busy:
                blocked = ("port %s on 127.0.0.1 is in use (a fixed port of "
                           "the README's; the test does not change it)"
                           % ", ".join(map(str, busy)))
        for no, cmd, r in matched:
            if r is None:
                self.failed += 1
                self.say("FAIL", no, cmd, "a README command this test does "
                         "not know: add it to RULES in %s (run it, or say why"
                         " not)" % os.path.basename(__file__))
                continue
            r["used"] += 1
            if r["kind"] == "not_run":
                self.say("not run", no, cmd, r["why"])
                continue
            if r["needs"] == "docker" and docker_why:
                self.env_skips.append((cmd, docker_why))
                self.say("not run", no, cmd, docker_why)
                continue
            if blocked:
                self.env_skips.append((cmd, blocked))
                self.say("not run", no, cmd, blocked)
                continue
            missing = [t for t in r["tools"] if not shutil.which(t)]
            if missing:
                why = "no %s on PATH" % ", ".join(missing)
                self.env_skips.append((cmd, why))
                self.say("not run", no, cmd, why)
                continue
            if left() < 1:
                blocked = "the test's %d s were spent" % DEADLINE_S
                self.failed += 1
                self.say("FAIL", no, cmd, blocked)
                continue
            if r["needs"] == "docker":
                self.docker_used = True
            run = self.as_run(r, cmd)
            t = time.monotonic()
            if r["kind"] == "env":
                why, note = self.do_env(run, env)
            elif r["kind"] == "once":
                why, note = self.do_once(r, run, env)
                if not why and r["leaves_nothing"]:
                    found = compose_leftovers(self.project)
                    why = ("the project still has " + "; ".join(found)
                           if found else None)
                    note = "; ".join(x for x in (
                        note, "nothing of the project left in the engine") if x)
            elif r["kind"] == "background":
                why, note = self.do_background(r, run, env, block_procs)
            else:
                why, note = self.do_stream(r, run, env)
            if run != cmd:
                note = ("as `%s` (Compose v1; no v2 here)" % run
                        + ("; " + note if note else ""))
            took = "%.1f s" % (time.monotonic() - t)
            if why:
                self.failed += 1
                self.say("FAIL", no, cmd, "%s (%s)" % (why.rstrip(), took))
                blocked = "an earlier command of this block failed"
            else:
                self.say("ok", no, cmd, "%s (%s)" % (note, took) if note
                         else took)
        for bad in self.stop_block(block_procs):
            self.failed += 1
            self.say("FAIL", first_no, "(the block's & processes)", bad)

    def cleanup(self):
        for p in self.procs:
            p.stop(signal.SIGTERM, grace=5)
        # A group is gone once init has reaped what was in it: bounded.
        end = time.monotonic() + 10
        while True:
            stray = []
            for p in self.procs:
                try:
                    os.killpg(p.p.pid, 0)
                    stray.append(p.cmd)
                except ProcessLookupError:
                    pass
                except PermissionError:
                    stray.append(p.cmd)
            if not stray or time.monotonic() >= end:
                return stray
            time.sleep(POLL_S)


def main():
    if len(sys.argv) != 4:
        print("usage: readme_test.py TROUPE SRC BUILD", file=sys.stderr)
        return 2
    troupe, src, build = (os.path.abspath(a) for a in sys.argv[1:])
    here = os.path.join(build, "node", "daemon", "troupe")
    for f in (troupe, here, os.path.join(build, "plugins", "echo.so"),
              os.path.join(build, "plugins", "ticker.so")):
        if not os.path.exists(f):
            print("SKIP: %s is not built (the README's commands need it)" % f)
            return 77
    if not os.path.samefile(troupe, here):
        print("FAIL: the README runs $B/node/daemon/troupe, but the troupe "
              "built is %s" % troupe)
        return 1
    with open(os.path.join(src, "README.md")) as f:
        readme = f.read()
    try:
        blocks = fenced_blocks(readme)
        split = [(lang, no, split_commands(no, lines) if lang == "sh" else
                  lines) for lang, no, lines in blocks]
    except ValueError as e:
        print("FAIL: %s" % e)
        return 1

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    base = tempfile.mkdtemp(prefix="troupe-readme.")
    run = Run(src, build, base)
    docker_why, v1 = None, False
    taken = set()
    if any(lang == "sh" and any((find_rule(c, taken) or {}).get("needs")
                                == "docker" for _, c in body)
           for lang, _, body in split):
        docker_why, v1 = docker_state()
        if v1:
            run.compose = "docker-compose"
    print("README.md: %d ```sh blocks, %d ```c blocks; root %s (build -> %s)%s"
          % (sum(b[0] == "sh" for b in split), sum(b[0] == "c" for b in split),
             run.root, build, "; docker: " + (docker_why or (
                 "Compose v1, `docker-compose` for `docker compose`" if v1
                 else "Compose v2")) + ", project " + run.project), flush=True)
    stray = []
    try:
        make_root(src, build, run.root)
        tour_done = False
        for lang, no, body in split:
            if lang == "sh":
                run.run_block(no, body, docker_why)
            elif lang == "c":
                code = "\n".join(body) + "\n"
                if re.search(r"^int main\(", code, re.M) and not tour_done:
                    tour_done = True
                    ok, what = compile_tour(src, build, code, run.logs)
                    if not ok:
                        run.failed += 1
                    run.say("ok" if ok else "FAIL", no, "```c (the tour)", what)
                else:
                    run.say("not run", no, "```c", "a fragment (no main: "
                            "ctx, data and the rest come from around it), "
                            "not compiled")
            else:
                run.failed += 1
                run.say("FAIL", no, "```%s" % (lang or "(no language)"),
                        "a block of a kind the test does not know: ```sh are "
                        "commands, ```c code")
    finally:
        stray = run.cleanup()
        if run.docker_used:
            compose_teardown(run.project, run.compose, run.root)
        shutil.rmtree(base, ignore_errors=True)
    for r in RULES:
        if not r["used"]:
            print("note: no README command for the entry %r"
                  % (r["cmd"].pattern if isinstance(r["cmd"], re.Pattern)
                     else r["cmd"]))
    if stray:
        run.failed += 1
        print("FAIL: processes left after the kill: %s" % stray)
    took = time.monotonic() - T0
    if run.failed:
        print("FAIL: %d failures (%.0f s)" % (run.failed, took))
        return 1
    if run.env_skips:
        whys = sorted(set(w for _, w in run.env_skips))
        if os.environ.get("TROUPE_REQUIRE_DOCKER") == "1" and docker_why:
            print("FAIL: docker commands not run (%s); TROUPE_REQUIRE_DOCKER=1"
                  % docker_why)
            return 1
        print("SKIP: the rest ran ok, but %d commands could not run here: %s "
              "(%.0f s)" % (len(run.env_skips), "; ".join(whys), took))
        return 77
    print("ok: every README command ran as written, or is listed as not run "
          "with its reason (%.0f s)" % took)
    return 0


if __name__ == "__main__":
    sys.exit(main())
