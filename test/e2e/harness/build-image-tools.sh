#!/usr/bin/env bash
# What test/e2e/image.test.ts builds the Dockerfile with, no Docker daemon and no registry: Debian's buildah, and
# the Debian libraries and busybox a local stand-in for node:26-slim is made of (the image then runs under the
# node suite's runc, build-node-binaries.sh). Taken
# from Debian's packages with apt-get download + dpkg-deb -x into the version-keyed cache; nothing is installed:
#   buildah-<ver>/usr/bin/buildah                      with the libraries it lacks on this machine next to it
#                                                      (libgpgme, libassuan), found through an absolute RUNPATH set
#                                                      with Debian's patchelf (buildah re-executes itself with a
#                                                      cleaned environment, so LD_LIBRARY_PATH would not reach it)
#   image-base-libc6-<ver>/                            busybox-static, libc6, libstdc++6, libgcc-s1, libatomic1: what
#                                                      the Node binary needs, and a shell for the Dockerfile's RUN lines
# Cold: about 10 MB of packages, seconds of CPU. Warm: nothing.
#
# Usage: build-image-tools.sh           fetch what is missing, then print the paths
#        build-image-tools.sh --paths   only print the paths
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
# shellcheck source=build-lib.sh
source "$repo/test/e2e/harness/build-lib.sh"

# Debian bookworm's versions; bump together with the machine's Debian release.
buildah_deb=("buildah=1.28.2+ds1-3+deb12u1+b3" "libgpgme11=1.18.0-3+b1" "libassuan0=2.5.5-5"
  "golang-github-containers-common=0.50.1+ds1-4")
base_deb=("busybox-static=1:1.35.0-4+deb12u1+b1" "libc6=2.36-9+deb12u14" "libstdc++6=12.2.0-14+deb12u1"
  "libgcc-s1=12.2.0-14+deb12u1" "libatomic1=12.2.0-14+deb12u1")
patchelf_deb="patchelf=0.14.3-1+b1"

ver_of() { local p; for p in "${@:2}"; do [[ "${p%%=*}" == "$1" ]] && { echo "${p#*=}"; return; }; done; }
tools_dir="$cache/buildah-$(ver_of buildah "${buildah_deb[@]}")"
base_dir="$cache/image-base-libc6-$(ver_of libc6 "${base_deb[@]}")"

print_paths() {
  echo "buildah=$tools_dir/usr/bin/buildah"
  echo "containers-policy=$tools_dir/etc/containers/policy.json"
  echo "image-base=$base_dir"
}
if [[ "${1:-}" == "--paths" ]]; then print_paths; exit 0; fi

extract_all() { # DEST PKG=VER...
  local dest="$1" p
  shift
  for p in "$@"; do debian_extract "${p%%=*}" "${p#*=}" "$dest"; done
}

if ! "$tools_dir/usr/bin/buildah" --version >/dev/null 2>&1; then
  start=$SECONDS
  mkdir -p "$cache"
  tmp="$(mktemp -d "$cache/.buildah.XXXXXX")"
  tmpfiles+=("$tmp")
  extract_all "$tmp/root" "${buildah_deb[@]}"
  extract_all "$tmp/patchelf" "$patchelf_deb"
  # The RUNPATH names the final directory: the rename below puts the libraries there.
  "$tmp/patchelf/usr/bin/patchelf" --set-rpath "$tools_dir/usr/lib/x86_64-linux-gnu" "$tmp/root/usr/bin/buildah"
  rm -rf "$tools_dir"
  mv "$tmp/root" "$tools_dir"
  "$tools_dir/usr/bin/buildah" --version >&2
  log "buildah: extracted in $((SECONDS - start))s"
else
  log "buildah: cached at $tools_dir"
fi

if [[ ! -x "$base_dir/bin/busybox" ]]; then
  mkdir -p "$cache"
  tmp="$(mktemp -d "$cache/.image-base.XXXXXX")"
  tmpfiles+=("$tmp")
  extract_all "$tmp" "${base_deb[@]}"
  # Only what a root filesystem needs: the libraries and busybox, not the packages' docs.
  rm -rf "${tmp:?}/usr/share" "${tmp:?}/etc"
  rm -rf "$base_dir"
  mv "$tmp" "$base_dir"
  log "image base: extracted into $base_dir"
else
  log "image base: cached at $base_dir"
fi
print_paths
