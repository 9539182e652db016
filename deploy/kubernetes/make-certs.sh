#!/usr/bin/env bash
# make-certs.sh — makes a troupe cluster's certificates and, for each node,
# the Secret NODE-certs (ca.pem, NODE.pem, NODE.key: that node's key alone)
# and the node's StatefulSet (statefulset.yaml with __NODE__ = NODE).
#   bash deploy/kubernetes/make-certs.sh [--nodes N] [--namespace NS]
#        [--cluster-domain D] [--dir DIR] [--apply]
# Nodes are troupe-0..N-1 [3]. It writes DIR/secrets.yaml (the Secrets),
# DIR/nodes/NODE.yaml (the StatefulSets) and DIR/ops (ca.pem, ops.pem,
# ops.key: the operator's, for troupe verbs from your machine). DIR/ca holds
# the CA's key and every certificate and key: keep it off the cluster. With
# --apply it also runs kubectl apply -f DIR/secrets.yaml. Run it again with
# more --nodes to add nodes: existing files are kept (the CA stays).
# TROUPE names the troupe binary [troupe on the PATH]; KUBECTL likewise.
set -euo pipefail
umask 077

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
nodes=3 namespace=default domain=cluster.local dir=certs apply=0
troupe=${TROUPE:-troupe}
kubectl=${KUBECTL:-kubectl}

usage() { sed -n '2,14s/^# \{0,1\}//p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    # --replicas: the flag's name before a node was a StatefulSet of its own.
    --nodes|--replicas) nodes=${2:?}; shift 2 ;;
    --namespace) namespace=${2:?}; shift 2 ;;
    --cluster-domain) domain=${2:?}; shift 2 ;;
    --dir) dir=${2:?}; shift 2 ;;
    --apply) apply=1; shift ;;
    -h|--help) usage ;;
    *) echo "make-certs.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
case $nodes in ''|*[!0-9]*|0) echo "make-certs.sh: --nodes wants 1 or more" >&2; exit 2 ;; esac
case $namespace in ''|*[!a-z0-9-]*) echo "make-certs.sh: --namespace is not a DNS label" >&2; exit 2 ;; esac
case $domain in ''|*[!a-z0-9.-]*) echo "make-certs.sh: --cluster-domain is not a DNS name" >&2; exit 2 ;; esac
template=$here/statefulset.yaml
[ -f "$template" ] || { echo "make-certs.sh: no $template" >&2; exit 1; }

ca=$dir/ca ops=$dir/ops
mkdir -p "$ca" "$ops" "$dir/nodes"
chmod 0700 "$ca" "$ops"
chmod 0755 "$dir/nodes"   # no secret in the StatefulSets
[ -f "$ca/ca.pem" ] || "$troupe" cert ca --dir "$ca" >/dev/null
for ((i = 0; i < nodes; i++)); do
  n=troupe-$i
  # The node name is what peers check (CN and DNS name troupe-N); the longer
  # names, of the pod troupe-N-0, are there for tools that verify the
  # address they dial.
  [ -f "$ca/$n.pem" ] || "$troupe" cert node "$n" --dir "$ca" \
    --dns "$n-0.troupe-headless" \
    --dns "$n-0.troupe-headless.$namespace.svc" \
    --dns "$n-0.troupe-headless.$namespace.svc.$domain" >/dev/null
done
[ -f "$ca/ops.pem" ] || "$troupe" cert client ops --dir "$ca" >/dev/null
cp "$ca/ca.pem" "$ca/ops.pem" "$ca/ops.key" "$ops/"

# Earlier versions wrote one Secret, troupe-certs, holding every node's key
# and the operator's: do not leave that lying about.
if [ -e "$dir/secret.yaml" ] || [ -e "$dir/secret" ]; then
  rm -rf "$dir/secret.yaml" "$dir/secret"
  echo "make-certs.sh: removed the old all-keys $dir/secret.yaml; delete the" \
    "Secret troupe-certs from the cluster once the nodes run on their own" >&2
fi

# The Secrets, written here (what `kubectl create secret generic
# --from-file --dry-run=client -o yaml` writes), so only --apply needs
# kubectl. One per node, each with that node's files and nothing else.
{
  for ((i = 0; i < nodes; i++)); do
    n=troupe-$i
    printf -- '---\napiVersion: v1\nkind: Secret\ntype: Opaque\nmetadata:\n'
    printf '  name: %s-certs\n  namespace: %s\n' "$n" "$namespace"
    printf '  labels:\n    app.kubernetes.io/name: troupe\n'
    printf '    app.kubernetes.io/instance: %s\ndata:\n' "$n"
    for f in "$ca/ca.pem" "$ca/$n.pem" "$ca/$n.key"; do
      printf '  %s: %s\n' "$(basename "$f")" "$(base64 -w0 "$f")"
    done
  done
} >"$dir/secrets.yaml"
chmod 0600 "$dir/secrets.yaml"

# The StatefulSets: the template with the node's name. No key in them.
rm -f "$dir"/nodes/troupe-*.yaml
for ((i = 0; i < nodes; i++)); do
  n=troupe-$i
  {
    printf '# %s: made by make-certs.sh from deploy/kubernetes/statefulset.yaml\n' "$n"
    # Its namespace and cluster domain too, so that -n cannot put it
    # apart from its Secret and its advertised name is right.
    sed -e '/^#/d' \
      -e "s/^  name: __NODE__\$/&\\n  namespace: $namespace/" \
      -e "s/\\.svc\\.cluster\\.local:/.svc.$domain:/g" \
      -e "s/__NODE__/$n/g" "$template"
  } >"$dir/nodes/$n.yaml"
  chmod 0644 "$dir/nodes/$n.yaml"
done

echo "make-certs.sh: $dir/secrets.yaml: a Secret per node, troupe-N-certs ($nodes nodes)"
echo "make-certs.sh: $dir/nodes/: a StatefulSet per node; $ops: the operator's certificate"
echo "make-certs.sh: keep $ca (the CA key, every node's key) safe and out of the cluster"
if [ "$apply" = 1 ]; then
  "$kubectl" apply -f "$dir/secrets.yaml"
else
  echo "next: kubectl apply -f $dir/secrets.yaml && kubectl apply -k deploy/kubernetes -n $namespace" \
    "&& kubectl apply -f $dir/nodes"
fi
