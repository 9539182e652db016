#!/usr/bin/env bash
# make-certs.sh — makes the certificates of a troupe StatefulSet and the
# Secret troupe-certs that statefulset.yaml mounts: ca.pem, troupe-N.pem and
# troupe-N.key for each pod (each names its node, troupe-N), ops.pem/ops.key
# for the operator verbs. The CA's key stays in DIR/ca, never in the Secret.
#   bash deploy/kubernetes/make-certs.sh [--replicas N] [--namespace NS]
#        [--cluster-domain D] [--dir DIR] [--apply]
# Without --apply it writes DIR/secret.yaml (apply it with kubectl apply -f);
# with --apply it also applies it. Run it again with a larger --replicas to
# add pods: existing files are kept, so the CA stays the same.
# TROUPE names the troupe binary [troupe on the PATH]; KUBECTL likewise.
set -euo pipefail
umask 077

replicas=3 namespace=default domain=cluster.local dir=certs apply=0
troupe=${TROUPE:-troupe}
kubectl=${KUBECTL:-kubectl}

usage() { sed -n '2,11s/^# \{0,1\}//p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --replicas) replicas=${2:?}; shift 2 ;;
    --namespace) namespace=${2:?}; shift 2 ;;
    --cluster-domain) domain=${2:?}; shift 2 ;;
    --dir) dir=${2:?}; shift 2 ;;
    --apply) apply=1; shift ;;
    -h|--help) usage ;;
    *) echo "make-certs.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
case $replicas in ''|*[!0-9]*|0) echo "make-certs.sh: --replicas wants 1 or more" >&2; exit 2 ;; esac

ca=$dir/ca sec=$dir/secret
mkdir -p "$ca" "$sec"
chmod 0700 "$ca" "$sec"
[ -f "$ca/ca.pem" ] || "$troupe" cert ca --dir "$ca" >/dev/null
for ((i = 0; i < replicas; i++)); do
  n=troupe-$i
  # The node name is what peers check (CN and DNS name troupe-N); the longer
  # names are there for tools that verify the address they dial.
  [ -f "$ca/$n.pem" ] || "$troupe" cert node "$n" --dir "$ca" \
    --dns "$n.troupe-headless" \
    --dns "$n.troupe-headless.$namespace.svc" \
    --dns "$n.troupe-headless.$namespace.svc.$domain" >/dev/null
done
[ -f "$ca/ops.pem" ] || "$troupe" cert client ops --dir "$ca" >/dev/null

rm -f "$sec"/*
cp "$ca/ca.pem" "$ca/ops.pem" "$ca/ops.key" "$sec/"
for ((i = 0; i < replicas; i++)); do
  cp "$ca/troupe-$i.pem" "$ca/troupe-$i.key" "$sec/"
done
# The Secret, written here (what `kubectl create secret generic
# --from-file --dry-run=client -o yaml` writes), so only --apply needs
# kubectl.
{
  printf 'apiVersion: v1\nkind: Secret\ntype: Opaque\nmetadata:\n'
  printf '  name: troupe-certs\n  namespace: %s\ndata:\n' "$namespace"
  for f in "$sec"/*; do
    printf '  %s: %s\n' "$(basename "$f")" "$(base64 -w0 "$f")"
  done
} >"$dir/secret.yaml"
chmod 0600 "$dir/secret.yaml"
echo "make-certs.sh: $dir/secret.yaml holds the Secret troupe-certs ($replicas nodes)"
echo "make-certs.sh: keep $ca (the CA key) safe and out of the cluster"
if [ "$apply" = 1 ]; then
  "$kubectl" apply -f "$dir/secret.yaml"
else
  echo "next: kubectl apply -f $dir/secret.yaml && kubectl apply -k deploy/kubernetes -n $namespace"
fi
