#!/usr/bin/env python3
"""check_manifests.py — checks deploy/kubernetes without a cluster: every
YAML document parses, has a known kind and apiVersion, and the pieces fit
together (Service <-> StatefulSet <-> PDB <-> probes <-> Secret <-> the
flags the container runs with). Exit 0 ok, 1 a finding, 77 no PyYAML."""
import os
import re
import sys

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

failures = []


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


def load(root):
    docs = []
    for name in sorted(os.listdir(root)):
        if not name.endswith((".yaml", ".yml")):
            continue
        with open(os.path.join(root, name)) as f:
            try:
                parsed = list(yaml.safe_load_all(f))
            except yaml.YAMLError as e:
                check(False, f"{name}: does not parse: {e}")
                continue
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
            docs.append((name, where, d))
    return docs


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


def main(root):
    docs = load(root)
    by_kind = {}
    for _, where, d in docs:
        by_kind.setdefault(d["kind"], []).append((where, d))

    kust = [d for _, d in by_kind.get("Kustomization", [])]
    if kust:
        listed = set(kust[0].get("resources", []))
        files = {n for n, _, d in docs if d["kind"] != "Kustomization"}
        check(listed == files,
              f"kustomization resources {sorted(listed)} != files {sorted(files)}")

    sts_list = by_kind.get("StatefulSet", [])
    if not check(len(sts_list) == 1, "want exactly one StatefulSet"):
        return
    where, sts = sts_list[0]
    spec = sts["spec"]
    tmpl = spec["template"]
    labels = get(tmpl, "metadata.labels", {})
    selector = get(spec, "selector.matchLabels", {})
    check(selector and all(labels.get(k) == v for k, v in selector.items()),
          f"{where}: selector {selector} does not match template labels {labels}")
    check(isinstance(spec.get("replicas"), int) and spec["replicas"] >= 1,
          f"{where}: replicas not set")
    check(spec.get("podManagementPolicy") == "Parallel",
          f"{where}: podManagementPolicy must be Parallel (a pod is ready "
          "only once joined)")

    # The headless Service the StatefulSet names.
    svcs = {d["metadata"]["name"]: d for _, d in by_kind.get("Service", [])}
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

    # The PodDisruptionBudget.
    pdbs = by_kind.get("PodDisruptionBudget", [])
    if check(len(pdbs) == 1, "want one PodDisruptionBudget"):
        p = pdbs[0][1]["spec"]
        sel = get(p, "selector.matchLabels", {})
        check(sel and all(labels.get(k) == v for k, v in sel.items()),
              f"PodDisruptionBudget: selector {sel} does not match the pods")
        check(("minAvailable" in p) != ("maxUnavailable" in p),
              "PodDisruptionBudget: set one of minAvailable, maxUnavailable")

    pod = tmpl["spec"]
    grace = pod.get("terminationGracePeriodSeconds", 30)
    psc = pod.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) != 0,
          "pod securityContext: runAsNonRoot and a non-zero runAsUser")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    containers = pod.get("containers", [])
    check(len(containers) >= 1, f"{where}: no containers")
    svc_name = spec.get("serviceName")
    for c in containers:
        cw = f"container {c.get('name')}"
        check(c.get("image"), f"{cw}: no image")
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
        check(st.get("name") == "<POD_NAME>", f"{cw}: the node name must be the pod name")
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

        # Certificates: the files named come from a mounted Secret volume.
        mounts = {m["mountPath"].rstrip("/"): m for m in c.get("volumeMounts", [])}
        for m in mounts.values():
            check(m["name"] in volumes, f"{cw}: mount {m['name']} has no volume")
        for k in ("ca", "cert", "key"):
            d = os.path.dirname(st.get(k, "/"))
            m = mounts.get(d)
            if not check(m, f"{cw}: {k} {st.get(k)!r} is not under a mount"):
                continue
            check(m.get("readOnly") is True, f"{cw}: mount {d} should be readOnly")
            vol = volumes.get(m["name"], {})
            check(get(vol, "secret.secretName"),
                  f"{cw}: {k} must come from a Secret volume")
        check(st.get("cert", "").endswith("/<POD_NAME>.pem") and
              st.get("key", "").endswith("/<POD_NAME>.key"),
              f"{cw}: the pod must pick its certificate by pod name")

    # make-certs.sh must write the keys the pods read.
    mk = os.path.join(root, "make-certs.sh")
    if check(os.path.exists(mk), "make-certs.sh missing"):
        text = open(mk).read()
        secret_names = {get(v, "secret.secretName") for v in volumes.values()}
        # The Secret it writes names itself "name: <secret>".
        check(any(f"name: {s}" in text for s in secret_names if s),
              f"make-certs.sh does not make the Secret {secret_names}")
        check("troupe-$i" in text, "make-certs.sh does not name the nodes troupe-N")
        check(sts["metadata"]["name"] == "troupe",
              "make-certs.sh names certificates troupe-N: the StatefulSet must be 'troupe'")


if __name__ == "__main__":
    root = sys.argv[1] if len(sys.argv) > 1 else "deploy/kubernetes"
    main(root)
    for f in failures:
        print("FAIL:", f)
    if failures:
        sys.exit(1)
    print("ok: deploy/kubernetes manifests are consistent")
