#!/usr/bin/env bash
# Builds kata-webhook (kata-containers tools/testing/kata-webhook) as a peer for `npm run bench -- --kata-webhook`.
# Its go.mod says `module module-path`, so it cannot come through the module proxy as a tools/<name>/ module: it
# is built from a kata-containers snapshot the caller has, into a cache outside this repository, keyed by the
# snapshot's commit. Nothing of kata-containers is committed here.
#
# The copy is patched in one place: upstream listens on ":8080" on every interface; the copy listens on
# 127.0.0.1:$KATA_WEBHOOK_PORT (0: a free port) and logs the address once it is bound, so the benchmark reads the
# port and the ready time from that line like the other servers'.
#
# Usage: build-kata-webhook.sh SNAPSHOT
#   SNAPSHOT: a kata-containers checkout, its git directory (e.g. from the search tool's fetch), or an exported
#   tools/testing/kata-webhook directory. stdout carries only the binary's path; progress goes to stderr.
# Cold: a few CPU-minutes (k8s.io/api); a cached binary is reused.
set -euo pipefail

log() { echo "$(basename "$0"): $*" >&2; }
die() { log "$*"; exit 1; }

[[ $# -eq 1 ]] || die "usage: $0 <kata-containers checkout, git dir, or tools/testing/kata-webhook dir>"
snapshot="$(cd "$1" 2>/dev/null && pwd)" || die "$1: not a directory"
cache="${SANDBOX_ADMISSION_CACHE:-$HOME/.cache/sandbox-admission}"
export PATH="$PATH:/usr/local/go/bin"
tool=tools/testing/kata-webhook

# git_dir_of DIR: the git directory DIR is or holds, or nothing.
git_dir_of() {
  if [[ -f "$1/HEAD" && -d "$1/objects" ]]; then echo "$1"; return; fi
  git -C "$1" rev-parse --absolute-git-dir 2>/dev/null || true
}

gitdir="$(git_dir_of "$snapshot")"
if [[ -n "$gitdir" ]] && git --git-dir="$gitdir" cat-file -e "HEAD:$tool/main.go" 2>/dev/null; then
  commit="$(git --git-dir="$gitdir" rev-parse HEAD)"
  export_sources() { git --git-dir="$gitdir" archive HEAD "$tool" | tar -x -C "$1" --strip-components=3; }
elif [[ -f "$snapshot/main.go" && -f "$snapshot/go.mod" ]]; then
  # An exported directory has no commit of its own: key it by its sources' content instead.
  commit="src-$(cat "$snapshot/go.mod" "$snapshot/go.sum" "$snapshot/main.go" | sha256sum | cut -c1-16)"
  export_sources() { cp -R "$snapshot/." "$1/"; }
else
  die "$snapshot: neither a kata-containers snapshot holding $tool/main.go nor a kata-webhook directory"
fi

out="$cache/kata-webhook-$commit"
binary="$out/kata-webhook"
if [[ -x "$binary" ]]; then
  log "cached at $binary"
  echo "$binary"
  exit 0
fi
command -v go >/dev/null || die "'go' not found (expected at /usr/local/go/bin); cannot build"

mkdir -p "$cache"
work="$(mktemp -d "$cache/.kata-webhook.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export_sources "$work"
main="$work/main.go"

# The patch: fail loudly when upstream's listen code has changed, rather than build something that listens on :8080.
grep -q 'port := ":8080"' "$main" && grep -q 'http.ListenAndServeTLS(port, cfg.certFile, cfg.keyFile, whHandler)' "$main" ||
  die "$main: the listen code is not the expected 'port := \":8080\"' ... http.ListenAndServeTLS(...); update this script's patch"
perl -0pi -e '
  s{\tport := ":8080"\n\tlogger\.Infof\("Listening on %s", port\)\n\terr = http\.ListenAndServeTLS\(port, cfg\.certFile, cfg\.keyFile, whHandler\)\n}{\tln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", os.Getenv("KATA_WEBHOOK_PORT")))\n\tif err != nil {\n\t\tfmt.Fprintf(os.Stderr, "error listening: %s", err)\n\t\tos.Exit(1)\n\t}\n\tlogger.Infof("Listening on %s", ln.Addr())\n\terr = http.ServeTLS(ln, whHandler, cfg.certFile, cfg.keyFile)\n} or die "listen block not found\n";
  s{\n\t"net/http"\n}{\n\t"net"\n\t"net/http"\n} or die "net/http import not found\n";
' "$main"

start=$SECONDS
log "building $commit ($(go version | awk '{print $3}')) -> $binary"
# GOTOOLCHAIN=local: build with the installed Go even if go.mod asks for a newer patch release.
(cd "$work" && GOWORK=off CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" nice -n 10 go build -trimpath -ldflags "-s -w" -o kata-webhook .)
mkdir -p "$out"
cp "$main" "$out/main.go.patched"
mv -f "$work/kata-webhook" "$binary.tmp"
mv -f "$binary.tmp" "$binary"
log "built in $((SECONDS - start))s"
echo "$binary"
