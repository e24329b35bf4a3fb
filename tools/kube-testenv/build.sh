#!/usr/bin/env bash
# Build the test control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok) from Go modules into a cache outside the repo.
#
# Why: this machine has no container engine (no kind), so the kube path is tested
# against real binaries built from the Go module proxy. The build is cached per
# component, keyed on the sha256 of that component's go.mod+go.sum, so a second
# run does nothing.
#
# Usage: tools/kube-testenv/build.sh [--print-dir] [--force]
# Env:   MILVUS_LAB_KUBE_TESTENV_CACHE  cache root (default ~/.cache/milvus-lab/kube-testenv)
#        GOFLAGS                         default -p=2 (the machine has 2 shared cores)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${MILVUS_LAB_KUBE_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/milvus-lab/kube-testenv}"

modversion() { # modversion <dir> <module>: the version <dir>/go.mod requires
    awk -v m="$2" '$1 == "require" && $2 == m { print $3; exit } $1 == m && $2 ~ /^v/ { print $2; exit }' "$HERE/$1/go.mod"
}

K8S_VERSION="$(modversion k8s k8s.io/kubernetes)"
ETCD_VERSION="$(modversion etcd go.etcd.io/etcd/server/v3)"
KWOK_VERSION="$(modversion kwok sigs.k8s.io/kwok)"
OUT="$CACHE_ROOT/$K8S_VERSION"

force=0
for arg in "$@"; do
    case "$arg" in
        --print-dir) echo "$OUT"; exit 0 ;;
        --force) force=1 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

if ! command -v go >/dev/null 2>&1; then
    echo "build.sh: 'go' is not on PATH; install Go >= 1.24 (k8s $K8S_VERSION needs it)" >&2
    exit 2
fi
gominor="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
if [ "${gominor:-0}" -lt 24 ]; then
    echo "build.sh: $(go env GOVERSION) is too old; k8s $K8S_VERSION needs Go >= 1.24" >&2
    exit 2
fi

export CGO_ENABLED=0
# At most 2 packages compile at once (2 shared cores; ~2 GB peak RSS), unless GOFLAGS says -p.
goflags="${GOFLAGS:-}"
case " $goflags " in *" -p="*) ;; *) goflags="$goflags -p=2" ;; esac
export GOFLAGS="$goflags -mod=readonly -trimpath"
# Never let the go command fetch a newer toolchain: only the module proxy is reachable.
export GOTOOLCHAIN=local
mkdir -p "$OUT/bin"

stamp_of() { cat "$HERE/$1/go.mod" "$HERE/$1/go.sum" | sha256sum | cut -c1-16; }

# build_one <module dir> <import path> <binary name> <ldflags>
build_one() {
    local dir="$1" pkg="$2" name="$3" ldflags="$4"
    local stamp
    stamp="$(stamp_of "$dir")"
    if [ "$force" = 0 ] && [ -x "$OUT/bin/$name" ] && [ "$(cat "$OUT/bin/.$name.stamp" 2>/dev/null)" = "$stamp" ]; then
        echo "build.sh: $name cached ($OUT/bin/$name)"
        return 0
    fi
    echo "build.sh: building $name from $pkg ..."
    local start=$SECONDS
    (cd "$HERE/$dir" && go build -ldflags "-s -w $ldflags" -o "$OUT/bin/.$name.tmp" "$pkg")
    mv -f "$OUT/bin/.$name.tmp" "$OUT/bin/$name"
    echo "$stamp" >"$OUT/bin/.$name.stamp"
    echo "build.sh: built $name in $((SECONDS - start))s"
}

minor="${K8S_VERSION#v1.}"
minor="${minor%%.*}"
V=k8s.io/component-base/version
K8S_LDFLAGS="-X $V.gitVersion=$K8S_VERSION -X $V.gitMajor=1 -X $V.gitMinor=$minor -X $V.gitTreeState=clean -X $V.buildDate=1970-01-01T00:00:00Z"

build_one etcd go.etcd.io/etcd/server/v3 etcd ""
build_one kwok sigs.k8s.io/kwok/cmd/kwok kwok ""
build_one k8s k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver "$K8S_LDFLAGS"
build_one k8s k8s.io/kubernetes/cmd/kube-controller-manager kube-controller-manager "$K8S_LDFLAGS"
build_one k8s k8s.io/kubernetes/cmd/kube-scheduler kube-scheduler "$K8S_LDFLAGS"

cat >"$OUT/versions.txt" <<EOF
kubernetes $K8S_VERSION
etcd $ETCD_VERSION
kwok $KWOK_VERSION
EOF
echo "build.sh: control plane $K8S_VERSION ready in $OUT/bin"
