#!/usr/bin/env bash
# Builds the parts of a real node for the node suite (test/e2e/node/) from pinned
# Go modules, into the same version-keyed cache as build-binaries.sh:
#   k8s-<ver>/{kube-scheduler,kube-controller-manager,kubelet}       tools/k8s
#   containerd-<ver>/{containerd,ctr,containerd-shim-runc-v2}        tools/containerd
#   runc-<ver>-libseccomp-<ver>/runc                                 tools/runc (cgo: nsenter, libseccomp from Debian)
#   gvisor-<ver>/runsc, gvisor-<ver>/patched-<sum>/containerd-shim-runsc-v1  tools/gvisor (+ tools/gvisor/patches)
#   cni-<ver>/{tap,host-local,loopback}                              tools/cni
#   rootfs-<k8s ver>-<busybox ver>/{pause,busybox}                   pause.c from k8s.io/kubernetes, busybox-static from Debian
# Two lanes build side by side (each go build already uses every core; the
# lanes overlap one's link and download phases with the other's compiles).
#
# Usage: build-node-binaries.sh           build what is missing, then print the paths
#        build-node-binaries.sh --kubernetes-only | --runtime-only   one lane only
#        build-node-binaries.sh --paths   only print the paths
# stdout carries only "name=<path>" lines (read by node-binaries.ts).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
# shellcheck source=build-lib.sh
source "$repo/test/e2e/harness/build-lib.sh"

k8s_ver="$(modver k8s k8s.io/kubernetes)"
containerd_ver="$(modver containerd github.com/containerd/containerd/v2)"
runc_ver="$(modver runc github.com/opencontainers/runc)"
gvisor_ver="$(modver gvisor gvisor.dev/gvisor)"
cni_ver="$(modver cni github.com/containernetworking/plugins)"
# Debian's statically linked busybox (bookworm); bump together with the machine's Debian release.
busybox_deb_ver="1:1.35.0-4+deb12u1+b1"
# libseccomp for runc's seccomp support (containerd gives every pod sandbox the RuntimeDefault profile), linked static.
seccomp_deb_ver="2.5.4-1+deb12u1"
for v in k8s_ver containerd_ver runc_ver gvisor_ver cni_ver; do
  [[ -n "${!v}" ]] || { log "cannot read the pinned ${v%_ver} version from tools/*/go.mod"; exit 1; }
done
patch_sum="$(cat "$repo"/tools/gvisor/patches/*.patch | sha256sum | cut -c1-12)"
busybox_tag="${busybox_deb_ver#*:}"

k8s_dir="$cache/k8s-$k8s_ver"
containerd_dir="$cache/containerd-$containerd_ver"
runc_dir="$cache/runc-$runc_ver-libseccomp-$seccomp_deb_ver"
seccomp_dir="$cache/libseccomp-dev-$seccomp_deb_ver"
gvisor_dir="$cache/gvisor-$gvisor_ver"
# The shim is built from a patched copy: keyed by the patches too.
shim_dir="$gvisor_dir/patched-$patch_sum"
cni_dir="$cache/cni-$cni_ver"
rootfs_dir="$cache/rootfs-$k8s_ver-busybox-$busybox_tag"

print_paths() {
  for b in kube-scheduler kube-controller-manager kubelet; do echo "$b=$k8s_dir/$b"; done
  for b in containerd ctr containerd-shim-runc-v2; do echo "$b=$containerd_dir/$b"; done
  echo "runc=$runc_dir/runc"
  echo "runsc=$gvisor_dir/runsc"
  echo "containerd-shim-runsc-v1=$shim_dir/containerd-shim-runsc-v1"
  echo "cni-bin-dir=$cni_dir"
  echo "pause=$rootfs_dir/pause"
  echo "busybox=$rootfs_dir/busybox"
}
lanes=(kubernetes runtime)
case "${1:-}" in
  --paths) print_paths; exit 0 ;;
  # .ci/run builds the Kubernetes lane after build-binaries.sh, in the same lane: two concurrent go builds of
  # k8s.io/kubernetes commands would compile their shared packages twice.
  --kubernetes-only) lanes=(kubernetes) ;;
  --runtime-only) lanes=(runtime) ;;
  "") ;;
  *) log "unknown argument $1 (expected --paths, --kubernetes-only or --runtime-only)"; exit 2 ;;
esac

k8s_ldflags="$(k8s_version_ldflags "$k8s_ver")"

lane_kubernetes() {
  trap 'rm -rf "${tmpfiles[@]}"' EXIT
  build kube-scheduler "$k8s_dir/kube-scheduler" k8s k8s.io/kubernetes/cmd/kube-scheduler "$k8s_ldflags"
  build kube-controller-manager "$k8s_dir/kube-controller-manager" k8s k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_ldflags"
  build kubelet "$k8s_dir/kubelet" k8s k8s.io/kubernetes/cmd/kubelet "$k8s_ldflags"
}

# module_dir TOOLS_DIR MODULE: where the pinned module's source is, downloading it first on a cold cache.
module_dir() {
  (cd "$repo/tools/$1" && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "$2") | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

# The gVisor shim with the patches under tools/gvisor/patches applied: a patched copy of the module in the
# cache (keyed by version and patch digest), swapped in by a go.work replace. The module cache stays
# pristine (go build -overlay may not replace files there).
gvisor_workspace() {
  local src="$shim_dir/src" p
  if [[ ! -f "$src/.patched" ]]; then
    local orig tmp
    orig="$(module_dir gvisor gvisor.dev/gvisor)"
    mkdir -p "$shim_dir"
    tmp="$(mktemp -d "$shim_dir/.src.XXXXXX")"
    tmpfiles+=("$tmp")
    cp -r "$orig/." "$tmp/"
    chmod -R u+w "$tmp"
    for p in "$repo"/tools/gvisor/patches/*.patch; do patch --quiet -d "$tmp" -p1 < "$p" >&2; done
    touch "$tmp/.patched"
    rm -rf "$src"
    mv "$tmp" "$src"
  fi
  # Rewritten each time: it names this clone's tools/gvisor.
  printf 'go %s\n\nuse %s\n\nreplace gvisor.dev/gvisor => %s\n' "$(go env GOVERSION | sed 's/^go//')" "$repo/tools/gvisor" "$src" > "$shim_dir/go.work"
}

build_pause() {
  local out="$rootfs_dir/pause"
  if [[ -x "$out" ]] && "$out" -v >/dev/null 2>&1; then log "pause: cached at $out"; return 0; fi
  local src start=$SECONDS tmp
  src="$(module_dir k8s k8s.io/kubernetes)/build/pause/linux/pause.c"
  mkdir -p "$rootfs_dir"
  tmp="$(mktemp "$rootfs_dir/.pause.XXXXXX")"
  tmpfiles+=("$tmp")
  # Static: the image holds nothing but this file.
  gcc -Os -static -Wall -Werror -DVERSION="\"$k8s_ver\"" -o "$tmp" "$src"
  "$tmp" -v >/dev/null
  mv -f "$tmp" "$out"
  log "pause: built from $src in $((SECONDS - start))s"
}

build_busybox() {
  local out="$rootfs_dir/busybox"
  if [[ -x "$out" ]] && "$out" true >/dev/null 2>&1; then log "busybox: cached at $out"; return 0; fi
  local work start=$SECONDS
  work="$(mktemp -d)"
  tmpfiles+=("$work")
  mkdir -p "$rootfs_dir"
  debian_extract busybox-static "$busybox_deb_ver" "$work/x"
  "$work/x/bin/busybox" true
  mv -f "$work/x/bin/busybox" "$out"
  log "busybox: extracted busybox-static $busybox_deb_ver in $((SECONDS - start))s"
}

# Debian's libseccomp-dev unpacked into the cache, and a pkg-config stand-in that hands cgo its static archive,
# so runc needs neither the -dev package installed nor libseccomp at run time.
prepare_libseccomp() {
  if [[ -x "$seccomp_dir/pkg-config" ]]; then return 0; fi
  local tmp
  mkdir -p "$(dirname "$seccomp_dir")"
  tmp="$(mktemp -d "$(dirname "$seccomp_dir")/.libseccomp.XXXXXX")"
  tmpfiles+=("$tmp")
  debian_extract libseccomp-dev "$seccomp_deb_ver" "$tmp"
  local lib
  lib="$(find "$tmp" -name libseccomp.a | head -n 1)"
  [[ -n "$lib" ]] || { log "libseccomp-dev $seccomp_deb_ver has no libseccomp.a"; return 1; }
  lib="${lib#"$tmp"}"
  cat > "$tmp/pkg-config" <<PKGCONFIG
#!/bin/sh
# Answers cgo's "pkg-config --cflags|--libs libseccomp" from Debian's libseccomp-dev under this directory.
case "\$*" in
  *--cflags*) echo "-I$seccomp_dir/usr/include" ;;
  *--libs*) echo "$seccomp_dir$lib" ;;
esac
PKGCONFIG
  chmod +x "$tmp/pkg-config"
  rm -rf "$seccomp_dir"
  mv "$tmp" "$seccomp_dir"
}

lane_runtime() {
  trap 'rm -rf "${tmpfiles[@]}"' EXIT
  local cv="github.com/containerd/containerd/v2/version"
  local cldflags="-X $cv.Version=$containerd_ver -X $cv.Revision=module-proxy -X $cv.Package=github.com/containerd/containerd/v2"
  build containerd "$containerd_dir/containerd" containerd github.com/containerd/containerd/v2/cmd/containerd "$cldflags"
  build ctr "$containerd_dir/ctr" containerd github.com/containerd/containerd/v2/cmd/ctr "$cldflags"
  build containerd-shim-runc-v2 "$containerd_dir/containerd-shim-runc-v2" containerd \
    github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 "$cldflags" -v
  # runc's nsenter is C: this one needs cgo, and libseccomp for the seccomp build tag.
  prepare_libseccomp
  PKG_CONFIG="$seccomp_dir/pkg-config" CGO=1 TAGS=seccomp build runc "$runc_dir/runc" runc github.com/opencontainers/runc "-X main.version=${runc_ver#v}"
  for p in main/tap main/loopback ipam/host-local; do
    CHECK_ENV="CNI_COMMAND=VERSION" build "cni-${p#*/}" "$cni_dir/${p#*/}" cni \
      "github.com/containernetworking/plugins/plugins/$p" "-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$cni_ver"
  done
  # runsc only works static here: the sandbox re-executes /proc/self/exe inside a chroot with no ELF interpreter.
  local gv="-X gvisor.dev/gvisor/runsc/version.version=$gvisor_ver"
  build runsc "$gvisor_dir/runsc" gvisor gvisor.dev/gvisor/runsc "$gv"
  gvisor_workspace
  GOWORK_FILE="$shim_dir/go.work" build containerd-shim-runsc-v1 "$shim_dir/containerd-shim-runsc-v1" gvisor gvisor.dev/gvisor/shim "$gv" -v
  build_pause
  build_busybox
}

total=$SECONDS
pids=()
for lane in "${lanes[@]}"; do
  if [[ $lane == kubernetes ]]; then
    lane_kubernetes > >(sed -u 's/^/[kubernetes] /' >&2) 2>&1 &
  else
    lane_runtime 2> >(sed -u 's/^/[runtime] /' >&2) &
  fi
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[[ $status -eq 0 ]] || { log "node binaries: a build failed (see above)"; exit 1; }
log "node binaries (${lanes[*]}) done in $((SECONDS - total))s (k8s $k8s_ver, containerd $containerd_ver, runc $runc_ver, gVisor $gvisor_ver, CNI $cni_ver)"
print_paths
