#!/usr/bin/env python3
"""check_manifests.py DIR [TROUPE] — checks deploy/kubernetes without a
cluster: every YAML document parses, has a known kind and apiVersion, and
the pieces fit together (Service <-> node StatefulSets <-> PDB <-> probes
<-> Secret <-> the flags the container runs with). Keys: a node's pod
mounts its own Secret and only its certificate, its key and the CA's
certificate from it; no other node's key, no operator key, never the CA's
key; no service account token. With TROUPE (the built binary) it also runs
make-certs.sh and checks what it writes the same way, down to the bytes of
each key. Exit 0 ok, 1 a finding, 77 no PyYAML."""
import base64
import os
import re
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print("SKIP: python3 PyYAML missing (Debian: python3-yaml)")
    sys.exit(77)

KNOWN = {
    ("v1", "Service"), ("v1", "Secret"), ("v1", "ServiceAccount"),
    ("v1", "ConfigMap"), ("apps/v1", "StatefulSet"),
    ("policy/v1", "PodDisruptionBudget"), ("batch/v1", "Job"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
}
LEAVE_BOUND_S = 5  # SIGTERM: the daemon leaves and exits within 5 s
PLACEHOLDER = "__NODE__"  # statefulset.yaml is the template of one node
TEMPLATE = "statefulset.yaml"
NAME_LABEL = "app.kubernetes.io/name"
NODE_LABEL = "app.kubernetes.io/instance"
# Volume kinds that cannot carry a key; anything else is refused.
KEYLESS_VOLUMES = {"emptyDir", "configMap"}

failures = []
PROJECT_VERSION = "?"  # main() reads it from the tree


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def get(obj, path, default=None):
    for key in path.split("."):
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def parse(name, text):
    """The mappings of one YAML file, each as (where, doc)."""
    try:
        parsed = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        check(False, f"{name}: does not parse: {e}")
        return []
    docs = []
    for i, d in enumerate(parsed):
        if d is None:
            continue
        where = f"{name}#{i}"
        if not check(isinstance(d, dict), f"{where}: not a mapping"):
            continue
        key = (d.get("apiVersion"), d.get("kind"))
        check(key in KNOWN, f"{where}: unknown apiVersion/kind {key}")
        if key[1] != "Kustomization":
            check(get(d, "metadata.name"), f"{where}: no metadata.name")
        docs.append((where, d))
    return docs


def render(text, node):
    """statefulset.yaml for one node, as make-certs.sh writes it (without
    the namespace it adds): the header comment dropped, the name in."""
    body = "".join(l for l in text.splitlines(True) if not l.startswith("#"))
    return body.replace(PLACEHOLDER, node)


def expand(value, env):
    """Kubernetes $(VAR) expansion from the variables defined so far."""
    return re.sub(r"\$\((\w+)\)",
                  lambda m: env.get(m.group(1), m.group(0)), value)


def container_settings(c):
    """The container's TROUPE_* settings after $(VAR) expansion, with
    flags winning over the environment as in `troupe run`."""
    env, unresolved = {}, []
    for e in c.get("env", []):
        if "value" in e:
            v = str(e["value"])
            for ref in re.findall(r"\$\((\w+)\)", v):
                if ref not in env:
                    unresolved.append(f"{e['name']} uses $({ref}) before it is set")
            env[e["name"]] = expand(v, env)
        else:
            env[e["name"]] = "<" + e["name"] + ">"
    settings = {k[len("TROUPE_"):].lower().replace("_", "-"): v
                for k, v in env.items() if k.startswith("TROUPE_")}
    args = [expand(str(a), env) for a in c.get("args", [])]
    for a in c.get("args", []):
        for ref in re.findall(r"\$\((\w+)\)", str(a)):
            if ref not in env:
                unresolved.append(f"args use $({ref}), which is not set")
    for i, a in enumerate(args):
        if a.startswith("--") and "=" in a:
            k, v = a[2:].split("=", 1)
            settings[k] = v
        elif a.startswith("--") and i + 1 < len(args):
            settings[a[2:]] = args[i + 1]
    return env, settings, args, unresolved


def check_keys_isolated(where, pod, node):
    """The pod can read this node's key and no other key: its one Secret is
    NODE-certs, from which it takes exactly ca.pem, NODE.pem and NODE.key;
    no other Secret, projected or host volume, no secret in the
    environment, no service account token."""
    own = f"{node}-certs"
    want_items = {"ca.pem", f"{node}.pem", f"{node}.key"}
    check(pod.get("automountServiceAccountToken") is False,
          f"{where}: automountServiceAccountToken must be false (no API "
          "token in a node's pod)")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for name, v in volumes.items():
        kinds = set(v) - {"name"}
        if kinds == {"secret"}:
            s = v["secret"]
            if not check(s.get("secretName") == own,
                         f"{where}: volume {name} mounts Secret "
                         f"{s.get('secretName')!r}; a node mounts only its own, {own}"):
                continue
            items = s.get("items")
            if not check(items, f"{where}: volume {name}: list the Secret's "
                         "items, so that nothing else in it is mounted"):
                continue
            keys = {i.get("key") for i in items}
            check(keys == want_items and all(i.get("path") == i.get("key") for i in items),
                  f"{where}: volume {name} takes {sorted(keys)} from {own}, "
                  f"want exactly {sorted(want_items)}")
        else:
            check(kinds <= KEYLESS_VOLUMES,
                  f"{where}: volume {name} is {sorted(kinds)}: only the node's "
                  f"Secret {own} (and {sorted(KEYLESS_VOLUMES)}) may be mounted")
    for c in pod.get("initContainers", []) + pod.get("containers", []):
        cw = f"{where}: container {c.get('name')}"
        for m in c.get("volumeMounts", []):
            check(m.get("name") in volumes, f"{cw}: mount {m.get('name')} has no volume")
        for e in c.get("env", []):
            check(not get(e, "valueFrom.secretKeyRef"),
                  f"{cw}: env {e['name']} comes from a Secret")
        for e in c.get("envFrom", []):
            check("secretRef" not in e, f"{cw}: envFrom a Secret")
        env = {e["name"]: str(e.get("value", "")) for e in c.get("env", [])}
        for k in ("TROUPE_CERT", "TROUPE_KEY"):
            check(k not in env or env[k].startswith(f"/certs/{node}."),
                  f"{cw}: {k}={env.get(k)!r} is not the node's own "
                  "(the operator's key is not in node pods)")
    text = yaml.safe_dump(pod)
    for bad in ("ops.key", "ops.pem", "ca.key"):
        check(bad not in text, f"{where}: the pod names {bad}")


def check_node_statefulset(where, sts, node, svcs):
    """One node's StatefulSet: one pod, named for the node, and everything
    the daemon needs to run there."""
    spec = sts["spec"]
    tmpl = spec["template"]
    check(sts["metadata"]["name"] == node,
          f"{where}: StatefulSet {sts['metadata']['name']!r} is not named for node {node}")
    check(spec.get("replicas") == 1,
          f"{where}: replicas must be 1 (one node, one key; more nodes are "
          "more StatefulSets)")
    labels = get(tmpl, "metadata.labels", {})
    selector = get(spec, "selector.matchLabels", {})
    check(selector and all(labels.get(k) == v for k, v in selector.items()),
          f"{where}: selector {selector} does not match template labels {labels}")
    check(selector.get(NODE_LABEL) == node and selector.get(NAME_LABEL) == "troupe",
          f"{where}: the selector must pick this node's pod alone "
          f"({NAME_LABEL}: troupe, {NODE_LABEL}: {node}), not another StatefulSet's")
    check(labels.get(NAME_LABEL) == "troupe",
          f"{where}: pods need {NAME_LABEL}: troupe (the Service and the PDB select it)")

    # The headless Service the StatefulSet names.
    svc = svcs.get(spec.get("serviceName"))
    if check(svc is not None,
             f"{where}: serviceName {spec.get('serviceName')!r} is no Service here"):
        s = svc["spec"]
        check(s.get("clusterIP") == "None", "Service: not headless (clusterIP: None)")
        check(s.get("publishNotReadyAddresses") is True,
              "Service: publishNotReadyAddresses must be true (nodes seed "
              "through it before they are ready)")
        check(all(labels.get(k) == v for k, v in s.get("selector", {}).items())
              and s.get("selector"),
              f"Service: selector {s.get('selector')} does not match the pods")

    pod = tmpl["spec"]
    spread = pod.get("topologySpreadConstraints", [])
    check(any(t.get("topologyKey") == "kubernetes.io/hostname" and
              get(t, "labelSelector.matchLabels", {}).get(
                  "app.kubernetes.io/name") == "troupe" for t in spread),
          f"{where}: no topology spread over hosts for troupe pods")
    grace = pod.get("terminationGracePeriodSeconds", 30)
    psc = pod.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) != 0,
          f"{where}: pod securityContext: runAsNonRoot and a non-zero runAsUser")
    check_keys_isolated(where, pod, node)
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    containers = pod.get("containers", [])
    check(len(containers) >= 1, f"{where}: no containers")
    svc_name = spec.get("serviceName")
    for c in containers:
        cw = f"{where}: container {c.get('name')}"
        check(c.get("image"), f"{cw}: no image")
        tag = c.get("image", "").rpartition(":")[2]
        check(tag == PROJECT_VERSION,
              f"{cw}: image {c.get('image')!r} is not pinned to this tree's "
              f"version {PROJECT_VERSION} (never :latest)")
        check(get(c, "resources.requests.cpu") and get(c, "resources.requests.memory"),
              f"{cw}: resources.requests cpu and memory")
        check(get(c, "resources.limits.memory"), f"{cw}: resources.limits.memory")
        csc = c.get("securityContext", {})
        check(csc.get("allowPrivilegeEscalation") is False,
              f"{cw}: allowPrivilegeEscalation must be false")
        check("ALL" in get(csc, "capabilities.drop", []), f"{cw}: drop ALL capabilities")

        env, st, args, unresolved = container_settings(c)
        for u in unresolved:
            check(False, f"{cw}: {u}")
        check(args[:1] == ["run"], f"{cw}: args must start with 'run' (ENTRYPOINT troupe)")
        pod_name = get(next((e for e in c.get("env", []) if e["name"] == "POD_NAME"), {}),
                       "valueFrom.fieldRef.fieldPath")
        check(pod_name == "metadata.name", f"{cw}: POD_NAME from metadata.name")
        check(st.get("name") == node,
              f"{cw}: the node name {st.get('name')!r} must be {node}, the name "
              "its certificate carries")
        check(st.get("listen", "").endswith(":7000"), f"{cw}: listen on :7000")
        check(st.get("advertise") ==
              f"<POD_NAME>.{svc_name}.<NAMESPACE>.svc.cluster.local:7000",
              f"{cw}: advertise {st.get('advertise')!r} is not the pod's DNS name")
        seed_host = st.get("seed", "").split(":")[0]
        check(seed_host.split(".")[0] == svc_name,
              f"{cw}: seed {st.get('seed')!r} is not the headless Service")
        for k in ("ca", "cert", "key", "plugin"):
            check(st.get(k), f"{cw}: no {k}")

        # Probes: /healthz and /readyz on the metrics port the daemon serves.
        metrics = st.get("metrics", "")
        if check(re.fullmatch(r"(0\.0\.0\.0|\[::\]):\d+", metrics),
                 f"{cw}: metrics {metrics!r} must listen on every interface "
                 "(the kubelet probes the pod IP)"):
            mport = int(metrics.rsplit(":", 1)[1])
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            for probe, path in (("readinessProbe", "/readyz"),
                                ("livenessProbe", "/healthz")):
                hg = get(c, probe + ".httpGet")
                if not check(hg, f"{cw}: no {probe}.httpGet"):
                    continue
                check(hg.get("path") == path, f"{cw}: {probe} path {hg.get('path')!r} != {path}")
                port = ports.get(hg.get("port"), hg.get("port"))
                check(port == mport,
                      f"{cw}: {probe} port {hg.get('port')!r} is not the metrics port {mport}")
            cport = int(st.get("listen", ":0").rsplit(":", 1)[1] or 0)
            check(cport in ports.values(), f"{cw}: cluster port {cport} not in ports")

        # Graceful termination: the kubelet waits longer than the leave.
        pre = get(c, "lifecycle.preStop.exec.command", [])
        pre_sleep = sum(int(x) for x in re.findall(r"sleep (\d+)", " ".join(map(str, pre))))
        check(grace > LEAVE_BOUND_S + pre_sleep,
              f"{cw}: terminationGracePeriodSeconds {grace} is not above the "
              f"{LEAVE_BOUND_S} s leave (+{pre_sleep} s preStop)")

        # Certificates: the files named come from the node's Secret volume.
        mounts = {m["mountPath"].rstrip("/"): m for m in c.get("volumeMounts", [])}
        for k in ("ca", "cert", "key"):
            d = os.path.dirname(st.get(k, "/"))
            m = mounts.get(d)
            if not check(m, f"{cw}: {k} {st.get(k)!r} is not under a mount"):
                continue
            check(m.get("readOnly") is True, f"{cw}: mount {d} should be readOnly")
            vol = volumes.get(m["name"], {})
            check(get(vol, "secret.secretName") == f"{node}-certs",
                  f"{cw}: {k} must come from the node's Secret {node}-certs")
        check(st.get("cert") == f"/certs/{node}.pem" and
              st.get("key") == f"/certs/{node}.key",
              f"{cw}: cert/key {st.get('cert')!r}, {st.get('key')!r} are not the "
              f"node's own (/certs/{node}.pem, /certs/{node}.key)")


def check_repo(root):
    """deploy/kubernetes itself: the kustomization, the Service, the PDB,
    and the node template rendered for two nodes."""
    docs = []
    template = None
    for name in sorted(os.listdir(root)):
        if not name.endswith((".yaml", ".yml")):
            continue
        text = open(os.path.join(root, name)).read()
        if name == TEMPLATE:
            template = text
            continue
        check(PLACEHOLDER not in text, f"{name}: holds {PLACEHOLDER}, which only "
              f"{TEMPLATE} (the node template) may")
        docs += [(name, where, d) for where, d in parse(name, text)]
    by_kind = {}
    for _, where, d in docs:
        by_kind.setdefault(d["kind"], []).append((where, d))

    kust = [d for _, d in by_kind.get("Kustomization", [])]
    if check(kust, "no kustomization.yaml"):
        listed = set(kust[0].get("resources", []))
        files = {n for n, _, d in docs if d["kind"] != "Kustomization"}
        check(listed == files,
              f"kustomization resources {sorted(listed)} != files {sorted(files)}")
        check(TEMPLATE not in listed,
              f"kustomization lists {TEMPLATE}: it is a template, applied per "
              "node from make-certs.sh's output")
    check(not by_kind.get("Secret"), "a Secret in deploy/kubernetes: keys do "
          "not belong in the repository (make-certs.sh writes them)")
    check(not by_kind.get("StatefulSet"),
          f"a StatefulSet outside {TEMPLATE}: each node's comes from the template")
    svcs = {d["metadata"]["name"]: d for _, d in by_kind.get("Service", [])}

    if not check(template is not None, f"no {TEMPLATE}"):
        return
    check(PLACEHOLDER in template, f"{TEMPLATE}: no {PLACEHOLDER} to name the node")
    pod_labels = {}
    for node, other in (("troupe-0", "troupe-1"), ("troupe-1", "troupe-0")):
        text = render(template, node)
        sts = [(w, d) for w, d in parse(f"{TEMPLATE}[{node}]", text)]
        if not check(len(sts) == 1 and sts[0][1].get("kind") == "StatefulSet",
                     f"{TEMPLATE}: want one StatefulSet"):
            return
        where, d = sts[0]
        check_node_statefulset(where, d, node, svcs)
        # Nothing in a node's manifest names another node.
        check(other not in text, f"{where}: names another node, {other}")
        pod_labels = get(d, "spec.template.metadata.labels", {})

    # The PodDisruptionBudget spans every node's StatefulSet.
    pdbs = by_kind.get("PodDisruptionBudget", [])
    if check(len(pdbs) == 1, "want one PodDisruptionBudget"):
        p = pdbs[0][1]["spec"]
        sel = get(p, "selector.matchLabels", {})
        check(sel and all(pod_labels.get(k) == v for k, v in sel.items()),
              f"PodDisruptionBudget: selector {sel} does not match the pods")
        check(NODE_LABEL not in sel,
              "PodDisruptionBudget: must select every node's pod, not one")
        check(("minAvailable" in p) != ("maxUnavailable" in p),
              "PodDisruptionBudget: set one of minAvailable, maxUnavailable")

    mk = os.path.join(root, "make-certs.sh")
    if check(os.path.exists(mk), "make-certs.sh missing"):
        text = open(mk).read()
        check("troupe-$i" in text, "make-certs.sh does not name the nodes troupe-N")
        check("-certs" in text and TEMPLATE in text,
              f"make-certs.sh does not write NODE-certs Secrets and {TEMPLATE} per node")
    return svcs


def read_pem_key(b):
    return b.startswith(b"-----BEGIN") and b"PRIVATE KEY-----" in b


def check_generated(root, troupe, svcs):
    """Runs make-certs.sh and checks what it writes: a Secret per node
    holding that node's key and no other key (compared by content with
    every key the CA directory holds), the StatefulSets pointing each at
    its own Secret, the operator's and the CA's keys in no Secret."""
    mk = os.path.join(root, "make-certs.sh")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "certs")
        env = dict(os.environ, TROUPE=troupe, KUBECTL="false")

        def run(*args):
            r = subprocess.run(["bash", mk, *args, "--dir", out], env=env,
                               capture_output=True, text=True, timeout=60)
            return check(r.returncode == 0,
                         f"make-certs.sh {' '.join(args)}: exit {r.returncode}: {r.stderr}")

        if not run("--nodes", "3", "--namespace", "prod"):
            return
        # An all-keys Secret file left by an earlier version goes away.
        open(os.path.join(out, "secret.yaml"), "w").write("old\n")
        if not run("--nodes", "4", "--namespace", "prod"):
            return
        check(not os.path.exists(os.path.join(out, "secret.yaml")),
              "make-certs.sh left the old all-keys secret.yaml")
        ca_dir = os.path.join(out, "ca")
        keys = {f[:-4]: open(os.path.join(ca_dir, f), "rb").read()
                for f in os.listdir(ca_dir) if f.endswith(".key")}
        nodes = [f"troupe-{i}" for i in range(4)]
        check(set(keys) == set(nodes) | {"ca", "ops"},
              f"DIR/ca holds keys {sorted(keys)}")
        check(len(set(keys.values())) == len(keys), "two keys are the same")
        check(oct(os.stat(ca_dir).st_mode & 0o777) == "0o700", "DIR/ca is not 0700")
        sec_file = os.path.join(out, "secrets.yaml")
        check(oct(os.stat(sec_file).st_mode & 0o777) == "0o600",
              "secrets.yaml is not 0600")

        secrets = {}
        for where, d in parse("secrets.yaml", open(sec_file).read()):
            if check(d.get("kind") == "Secret", f"{where}: not a Secret"):
                secrets[d["metadata"]["name"]] = (where, d)
        check(set(secrets) == {f"{n}-certs" for n in nodes},
              f"secrets.yaml makes {sorted(secrets)}, want troupe-0..3-certs")
        for n in nodes:
            where, d = secrets.get(f"{n}-certs", (None, None))
            if d is None:
                continue
            check(get(d, "metadata.namespace") == "prod", f"{where}: namespace")
            data = {k: base64.b64decode(v) for k, v in d.get("data", {}).items()}
            check(set(data) == {"ca.pem", f"{n}.pem", f"{n}.key"},
                  f"{where}: holds {sorted(data)}, want ca.pem, {n}.pem, {n}.key")
            held = sorted(k for k, v in keys.items()
                          if any(v in blob for blob in data.values()))
            check(held == [n], f"{where}: holds the keys of {held}, want {n}'s alone")
            check(all(not read_pem_key(v) for k, v in data.items() if k != f"{n}.key"),
                  f"{where}: a private key outside {n}.key")

        for n in nodes:
            path = os.path.join(out, "nodes", f"{n}.yaml")
            if not check(os.path.exists(path), f"no nodes/{n}.yaml"):
                continue
            text = open(path).read()
            check(PLACEHOLDER not in text, f"nodes/{n}.yaml: {PLACEHOLDER} left")
            check(not any(v.decode() in text for v in keys.values()),
                  f"nodes/{n}.yaml: holds a key")
            docs = parse(f"nodes/{n}.yaml", text)
            if not check(len(docs) == 1, f"nodes/{n}.yaml: want one StatefulSet"):
                continue
            where, sts = docs[0]
            check(get(sts, "metadata.namespace") == "prod",
                  f"{where}: namespace {get(sts, 'metadata.namespace')!r}, want prod "
                  "(the one its Secret is in)")
            check_node_statefulset(where, sts, n, svcs)
        ops = os.path.join(out, "ops")
        check(sorted(os.listdir(ops)) == ["ca.pem", "ops.key", "ops.pem"],
              f"DIR/ops holds {sorted(os.listdir(ops))}")
        # The CA's key is in DIR/ca and nowhere else make-certs.sh wrote.
        for d, _, files in os.walk(out):
            for f in files:
                p = os.path.join(d, f)
                if os.path.dirname(p) != ca_dir:
                    check(keys["ca"] not in open(p, "rb").read(),
                          f"{os.path.relpath(p, out)} holds the CA's key")


def project_version(root):
    """The version in the tree's CMakeLists.txt (project(troupe VERSION x))."""
    import re
    top = os.path.join(root, "..", "..", "CMakeLists.txt")
    m = re.search(r"project\(troupe VERSION ([0-9.]+)", open(top).read())
    return m.group(1) if m else "?"


def main(argv):
    global PROJECT_VERSION
    root = argv[1] if len(argv) > 1 else "deploy/kubernetes"
    PROJECT_VERSION = project_version(root)
    troupe = argv[2] if len(argv) > 2 else None
    svcs = check_repo(root)
    if troupe and svcs is not None:
        check_generated(root, troupe, svcs)
    for f in failures:
        print("FAIL:", f)
    if failures:
        sys.exit(1)
    print("ok: deploy/kubernetes manifests are consistent; each node's pod "
          "can read its own key alone" +
          ("; make-certs.sh writes them so" if troupe else
           " (make-certs.sh not run: no troupe binary given)"))


if __name__ == "__main__":
    main(sys.argv)
