#!/usr/bin/env python3
"""check_layers.py — the layers' allowed arrows, checked on every #include.

Each source file belongs to a layer by where it lives; each quoted header
it includes belongs to a layer's interface or to a layer's private side.
A file may include only what its layer's row below allows: base (the
public helpers every layer may call) only the public headers, the engine
and the policy stand alone, wire needs nanopb, tls mbedTLS, link tls and
wire, the cluster the link, the policy and the engine's seam, the node
assembly the engine, the policy and the cluster, and the daemon, the
examples and plugins only the public headers. Exit 0 when every include is allowed; 1 with one line per
violation otherwise; 2 for a bad call.

    check_layers.py SOURCE_ROOT
"""
import os
import re
import sys

# Where a file lives -> its layer (first match wins; paths relative to the
# source root).
LAYERS = [
    ("include/troupe_pb.h", "api_pb"),  # the typed calls: needs nanopb's pb.h
    ("include/", "api"),
    ("base/", "base"),
    ("node/engine/", "engine"),
    ("node/policy/", "policy"),
    ("node/cluster/", "cluster"),
    ("node/assembly/", "assembly"),
    ("node/daemon/", "daemon"),
    ("node/typed/", "typed"),
    ("transport/wire/", "wire"),
    ("transport/tls/", "tls"),
    ("transport/link/", "link"),
    ("examples/", "example"),
]

# Headers: the public API, each layer's interface (what the layers above
# may include) and its private side (its own files only).
def header_kind(path):
    if path.startswith("include/"):
        return "api"
    if path.startswith("node/engine/include/"):
        return "engine-if"
    if path.startswith("node/cluster/include/"):
        return "cluster-if"
    if path.startswith("node/policy/include/"):
        return "policy-if"
    if path.startswith("transport/link/include/"):
        return "link-if"
    if path.startswith("transport/tls/include/"):
        return "tls"
    for prefix, layer in LAYERS:
        if path.startswith(prefix):
            if layer == "wire":
                return layer  # a one-header layer: wire.h is its interface
            return layer + "-private"
    return None

ALLOWED = {
    "api": {"api"},
    "api_pb": {"api"},
    "base": {"api"},
    "engine": {"api", "engine-if", "engine-private"},
    "policy": {"api", "policy-if", "policy-private"},
    "wire": {"api", "wire"},
    "tls": {"api", "tls", "tls-private"},
    "link": {"api", "tls", "wire", "link-if", "link-private"},
    "cluster": {"api", "engine-if", "link-if", "tls", "wire", "cluster-if",
                "cluster-private", "policy-if"},
    "assembly": {"api", "engine-if", "cluster-if", "policy-if",
                 "assembly-private"},
    "daemon": {"api", "daemon-private"},
    "typed": {"api", "typed-private"},
    "example": {"api"},
}

# Generated or third-party headers that are found on include paths:
# the layer they stand for.
EXTERNAL = {
    "troupe.pb.h": "wire",  # generated from transport/wire/troupe.proto
    "uthash.h": None,       # Debian uthash-dev: any layer
    "utlist.h": None,
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)

# Libraries: which layers may include them (<...> includes). TLS and the
# wire format are sans-I/O (no libuv); mbedTLS is the TLS layer's (and the
# daemon's certificate writer's); nanopb the wire format's and of those
# that encode messages of it, and of the typed calls (node/typed, their
# header, the examples that use them).
SYSTEM = [
    (re.compile(r"^uv\.h$"), {"engine", "link", "cluster", "assembly",
                              "daemon", "example"}),
    (re.compile(r"^mbedtls/"), {"tls", "daemon"}),
    (re.compile(r"^pb(_encode|_decode|_common)?\.h$"), {"wire", "link",
                                                       "cluster", "typed",
                                                       "api_pb", "example"}),
]
SYSTEM_INCLUDE = re.compile(r"^\s*#\s*include\s+<([^>]+)>", re.M)


def layer_of(rel):
    for prefix, layer in LAYERS:
        if rel.startswith(prefix):
            return layer
    return None


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    root = os.path.abspath(argv[1])
    headers = {}  # basename -> [relative paths]
    sources = []
    for prefix, _ in LAYERS:
        top = os.path.join(root, prefix)
        for dirpath, _, files in os.walk(top):
            for f in files:
                rel = os.path.relpath(os.path.join(dirpath, f), root)
                if f.endswith(".h"):
                    headers.setdefault(f, []).append(rel)
                if f.endswith((".c", ".h")):
                    sources.append(rel)
    bad = []
    for rel in sorted(sources):
        layer = layer_of(rel)
        with open(os.path.join(root, rel), encoding="utf-8") as fh:
            text = fh.read()
        here = os.path.dirname(rel)
        for m in INCLUDE.finditer(text):
            name = m.group(1)
            base = os.path.basename(name)
            line = text.count("\n", 0, m.start()) + 1
            if base in EXTERNAL:
                kind = EXTERNAL[base]
            elif layer == "example" and base.endswith(".tr.h"):
                # generated by troupe_add_messages from the example's own
                # .proto (it includes troupe_pb.h and the nanopb header)
                kind = "api"
            else:
                # The header next to the file first, as the compiler does.
                local = os.path.normpath(os.path.join(here, name))
                cands = ([local] if local in sources
                         else headers.get(base, []))
                if len(cands) != 1:
                    bad.append(f"{rel}:{line}: includes \"{name}\", which is "
                               f"{'not in the tree' if not cands else 'ambiguous: ' + ', '.join(cands)}")
                    continue
                kind = header_kind(cands[0])
            if kind is None or kind in ALLOWED[layer]:
                continue
            bad.append(f"{rel}:{line}: the {layer} layer includes \"{name}\" "
                       f"({kind}); it may include only "
                       f"{', '.join(sorted(ALLOWED[layer]))}")
        for m in SYSTEM_INCLUDE.finditer(text):
            name = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            for pattern, layers in SYSTEM:
                if pattern.search(name) and layer not in layers:
                    bad.append(f"{rel}:{line}: the {layer} layer includes "
                               f"<{name}>, which only "
                               f"{', '.join(sorted(layers))} may")
    for b in bad:
        print(b)
    if bad:
        print(f"check_layers: {len(bad)} include(s) against the layers' "
              f"arrows (see tests/build/check_layers.py)")
        return 1
    print(f"check_layers: {len(sources)} files, every include allowed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
