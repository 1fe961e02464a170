#!/usr/bin/env bash
# Unpacks a ready-built Conduit binary into the harness's cache and prints its path, for
# `--target conduit --conduit-bin PATH`:
#
#   ci/conduit/unpack.sh [DIR]      # default DIR: ../shared/targets/conduit, relative to the repository
#
# DIR holds conduit-<version>-linux-x86_64.xz and SHA256SUMS (the hash of the archive and of the
# unpacked binary, the latter on a line ending in "conduit (unpacked)"). The archive is checked
# before it is unpacked and the binary after, into
# ${MATRIX_CONFORMANCE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/matrix-conformance}/conduit/<version>/conduit;
# a binary already there with the right hash is kept. The harness itself knows nothing of DIR:
# this script is how CI and the harness's own tests get a path to pass.
#
# Exit status: 0 with the path on stdout; 1 with a message on stderr (no archive, a hash that
# does not match, no xz).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${1:-$ROOT/../shared/targets/conduit}"
say() { printf 'conduit/unpack: %s\n' "$*" >&2; }

[ -d "$DIR" ] || { say "no such directory: $DIR"; exit 1; }
DIR="$(cd "$DIR" && pwd)"
shopt -s nullglob
archives=("$DIR"/conduit-*.xz)
shopt -u nullglob
[ "${#archives[@]}" -eq 1 ] || { say "expected exactly one conduit-<version>-*.xz in $DIR, found ${#archives[@]}"; exit 1; }
ARCHIVE="${archives[0]}"
SUMS="$DIR/SHA256SUMS"
[ -f "$SUMS" ] || { say "no SHA256SUMS next to $ARCHIVE"; exit 1; }
for tool in xz sha256sum; do command -v "$tool" >/dev/null || { say "'$tool' is needed but not installed"; exit 1; }; done

NAME="$(basename "$ARCHIVE")"
VERSION="$(printf '%s\n' "$NAME" | sed -E 's/^conduit-([0-9][0-9A-Za-z.+-]*)-linux-.*\.xz$/\1/')"
[ "$VERSION" != "$NAME" ] || { say "cannot read a version from the archive name $NAME (expected conduit-<version>-linux-<arch>.xz)"; exit 1; }

expected() { # the hash SHA256SUMS gives for the file named $1 (rest of the line after the hash)
  awk -v name="$1" '{ h = $1; $1 = ""; sub(/^ +\*?/, ""); if ($0 == name) { print h; exit } }' "$SUMS"
}
WANT_ARCHIVE="$(expected "$NAME")"
WANT_BIN="$(expected "conduit (unpacked)")"
[ -n "$WANT_ARCHIVE" ] || { say "SHA256SUMS has no line for $NAME"; exit 1; }
[ -n "$WANT_BIN" ] || { say "SHA256SUMS has no line for 'conduit (unpacked)'"; exit 1; }

CACHE="${MATRIX_CONFORMANCE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/matrix-conformance}"
DEST_DIR="$CACHE/conduit/$VERSION"
DEST="$DEST_DIR/conduit"
hash_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$DEST" ] && [ "$(hash_of "$DEST")" = "$WANT_BIN" ]; then
  chmod +x "$DEST"
  printf '%s\n' "$DEST"
  exit 0
fi

GOT="$(hash_of "$ARCHIVE")"
[ "$GOT" = "$WANT_ARCHIVE" ] || { say "$ARCHIVE has sha256 $GOT, SHA256SUMS says $WANT_ARCHIVE"; exit 1; }
mkdir -p "$DEST_DIR"
TMP="$(mktemp "$DEST_DIR/.conduit.XXXXXX")"
trap 'rm -f "$TMP"' EXIT
xz -dc "$ARCHIVE" >"$TMP"
GOT="$(hash_of "$TMP")"
[ "$GOT" = "$WANT_BIN" ] || { say "the binary unpacked from $NAME has sha256 $GOT, SHA256SUMS says $WANT_BIN"; exit 1; }
chmod 755 "$TMP"
mv -f "$TMP" "$DEST"
trap - EXIT
say "unpacked Conduit $VERSION from $ARCHIVE (sha256 checked)"
printf '%s\n' "$DEST"
