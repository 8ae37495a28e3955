# Shared by build-binaries.sh and build-node-binaries.sh: the version-keyed cache
# outside the repository and one way to build a pinned Go module's command.
# Sourced, not run. Expects $repo to be set.
cache="${SANDBOX_ADMISSION_CACHE:-$HOME/.cache/sandbox-admission}"
export PATH="$PATH:/usr/local/go/bin"

# modver TOOLS_DIR MODULE: the version pinned in tools/TOOLS_DIR/go.mod, the single place it is pinned.
modver() { awk -v m="$2" '$1==m{print $2; exit}' "$repo/tools/$1/go.mod"; }

log() { echo "$(basename "$0"): $*" >&2; }

# Half-written temp files are removed however the script (or a lane subshell) ends.
tmpfiles=()
trap 'rm -rf "${tmpfiles[@]}"' EXIT

# build NAME OUT MODULE_DIR PACKAGE EXTRA_LDFLAGS [VERSION_ARGS...]
# VERSION_ARGS: how the binary reports its version (default --version); it must
# succeed for a cached or freshly built binary to be accepted.
# Environment: CGO=1 builds with cgo (default static, CGO_ENABLED=0); CHECK_ENV="K=V"
# is set for the version check; GOWORK_FILE=<go.work> builds in that workspace (e.g. to swap in a patched module);
# TAGS=<list> are go build tags.
build() {
  local name="$1" out="$2" moddir="$3" pkg="$4" extra="$5"
  shift 5
  local verargs=("$@")
  [[ ${#verargs[@]} -gt 0 ]] || verargs=(--version)
  local check=(env ${CHECK_ENV:-})
  if [[ -x "$out" ]] && "${check[@]}" "$out" "${verargs[@]}" >/dev/null 2>&1; then
    log "$name: cached at $out"
    return 0
  fi
  command -v go >/dev/null || { log "$name: 'go' not found (expected at /usr/local/go/bin); cannot build"; return 1; }
  mkdir -p "$(dirname "$out")"
  # Build to a temp file in the same directory and rename: a concurrent or
  # interrupted build never leaves a half-written binary at the cached path.
  local tmp
  tmp="$(mktemp "$(dirname "$out")/.$name.XXXXXX")"
  tmpfiles+=("$tmp")
  log "$name: building $pkg ($(go version | awk '{print $3}')) -> $out"
  local start=$SECONDS
  local flags=(-trimpath -ldflags "-s -w $extra")
  [[ -z "${TAGS:-}" ]] || flags+=(-tags "$TAGS")
  # GOTOOLCHAIN=local: build with the installed Go, never fetch another one.
  (cd "$repo/tools/$moddir" &&
    GOWORK="${GOWORK_FILE:-off}" CGO_ENABLED="${CGO:-0}" GOTOOLCHAIN=local go build "${flags[@]}" -o "$tmp" "$pkg")
  "${check[@]}" "$tmp" "${verargs[@]}" >/dev/null
  mv -f "$tmp" "$out"
  log "$name: built in $((SECONDS - start))s"
}

# Stamp the release version the way Kubernetes' own build does (hack/lib/version.sh);
# unstamped it reports v0.0.0-master in /version and --version.
k8s_version_ldflags() {
  local ver="$1" minor flags="" p
  minor="${ver#v1.}"; minor="${minor%%.*}"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $p.gitVersion=$ver -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  echo "$flags"
}

# debian_extract PACKAGE VERSION DEST: the files of one Debian package under DEST; nothing is installed.
debian_extract() {
  local pkg="$1" ver="$2" dest="$3" work
  work="$(mktemp -d)"
  tmpfiles+=("$work")
  # apt-get download writes only into the current directory (as the _apt user); it needs the package lists.
  chmod 755 "$work"
  if ! (cd "$work" && apt-get download -q "$pkg=$ver" >&2); then
    log "$pkg: refreshing the package lists (apt-get update) and trying again"
    apt-get update -q >&2
    (cd "$work" && apt-get download -q "$pkg=$ver" >&2) || {
      log "$pkg=$ver is not served; set its version in $0 to what 'apt-cache policy $pkg' offers"
      return 1
    }
  fi
  dpkg-deb -x "$work/${pkg}_"*.deb "$dest"
}
