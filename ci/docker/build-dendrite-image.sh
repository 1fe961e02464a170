#!/usr/bin/env bash
# Builds a Complement-contract image of Dendrite without any registry, for the image target:
#
#   ci/docker/build-dendrite-image.sh [VERSION]     # default v0.13.8 -> matrix-conformance/dendrite:v0.13.8
#
# It takes the Dendrite programs that the harness builds into its cache (`go install` of the
# Apache-2.0 module github.com/matrix-org/dendrite at VERSION; the harness builds them first if they
# are not there), the shared libraries `ldd` names for them and for the few tools the entrypoint
# uses (dash, sed, mkdir, cat, openssl), writes a small entrypoint, and `docker import`s the
# root filesystem as a tarball. Nothing is pulled. Safe to re-run: the tag is replaced and the
# image it pointed to before is removed when nothing uses it.
#
# The image follows the Complement contract: SERVER_NAME from the environment; client API on
# 8008 (HTTP) and federation on 8448 (HTTPS); the CA at /complement/ca/ca.crt and ca.key (copied in
# before start) signs the server's certificate and is the only root Dendrite trusts for outbound
# federation; registration shared secret `complement`; ready when /_matrix/client/versions
# answers. Beyond the contract it honours MATRIX_CONFORMANCE_CLIENT_PORT,
# MATRIX_CONFORMANCE_FEDERATION_PORT and MATRIX_CONFORMANCE_BIND_ADDRESS (defaults 8008, 8448,
# 0.0.0.0), and says so with the label org.matrix-conformance.ports-from-env=1, so that the
# harness can run it with host networking on free loopback ports.
#
# Environment: MATRIX_CONFORMANCE_CACHE (the harness's cache, default ~/.cache/matrix-conformance),
# IMAGE (default matrix-conformance/dendrite:VERSION).
set -euo pipefail

VERSION="${1:-v0.13.8}"
case "$VERSION" in v*) ;; *) VERSION="v$VERSION" ;; esac
IMAGE="${IMAGE:-matrix-conformance/dendrite:$VERSION}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
say() { printf 'build-dendrite-image: %s\n' "$*" >&2; }

command -v docker >/dev/null || { say "the docker command is missing (ci/docker/start-dockerd.sh installs and starts an engine)"; exit 1; }
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || { say "no Docker engine answers; start one first: ci/docker/start-dockerd.sh"; exit 1; }
for tool in ldd tar dash sed mkdir cat openssl; do
  command -v "$tool" >/dev/null || { say "'$tool' is needed to assemble the image but is not installed"; exit 1; }
done

# 1. The Dendrite programs, from the harness's cache (built there now if missing).
say "provisioning Dendrite $VERSION through the harness (built once with go install; minutes the first time)"
BIN_DIR="$(cd "$ROOT" && node --import tsx --input-type=module -e '
  const { provisionDendrite } = await import("./harness/targets/dendrite.ts");
  const { defaultCacheDir } = await import("./harness/targets/cache.ts");
  const install = await provisionDendrite(defaultCacheDir(), process.argv[1], (l) => process.stderr.write(`  ${l}\n`));
  process.stdout.write(install.binDir);
' "$VERSION")"
[ -x "$BIN_DIR/dendrite" ] || { say "no dendrite binary in '$BIN_DIR'"; exit 1; }

# 2. A root filesystem: the programs, their shared libraries, the entrypoint.
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
RFS="$WORK/rootfs"
mkdir -p "$RFS"/{bin,usr/local/bin,etc/ssl,data,tmp,complement/ca,complement/appservice}
chmod 1777 "$RFS/tmp"

add_libs() { # copy every library ldd names for $1 (and the dynamic loader) to the same path
  ldd "$1" | while read -r a b c _; do
    local lib=""
    if [ "$b" = "=>" ] && [ -n "$c" ] && [ "${c#/}" != "$c" ]; then lib="$c"; elif [ "${a#/}" != "$a" ]; then lib="$a"; fi
    [ -n "$lib" ] || continue
    mkdir -p "$RFS$(dirname "$lib")"
    [ -e "$RFS$lib" ] || cp -L "$lib" "$RFS$lib"
  done
}
for prog in dendrite generate-config generate-keys; do
  cp "$BIN_DIR/$prog" "$RFS/usr/local/bin/$prog"
  add_libs "$BIN_DIR/$prog"
done
cp -L "$(command -v dash)" "$RFS/bin/sh"; add_libs "$(command -v dash)"
for tool in sed mkdir cat openssl; do
  cp -L "$(command -v "$tool")" "$RFS/bin/$tool"; add_libs "$(command -v "$tool")"
done
printf 'root:x:0:0:root:/data:/bin/sh\n' >"$RFS/etc/passwd"
printf 'root:x:0:\n' >"$RFS/etc/group"
printf 'hosts: files dns\n' >"$RFS/etc/nsswitch.conf"
# openssl wants a config file; an empty one with the server-certificate extensions we add.
cat >"$RFS/etc/ssl/openssl.cnf" <<'CNF'
[ server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = serverAuth, clientAuth
CNF

cat >"$RFS/entrypoint.sh" <<'ENTRY'
#!/bin/sh
# Complement-contract entrypoint for Dendrite (built by matrix-conformance's
# ci/docker/build-dendrite-image.sh).
set -eu
: "${SERVER_NAME:?SERVER_NAME must be set (Complement contract)}"
CLIENT_PORT="${MATRIX_CONFORMANCE_CLIENT_PORT:-8008}"
FED_PORT="${MATRIX_CONFORMANCE_FEDERATION_PORT:-8448}"
BIND="${MATRIX_CONFORMANCE_BIND_ADDRESS:-0.0.0.0}"
CA=/complement/ca
cd /data

# Config: Dendrite's own CI defaults (shared secret "complement", no rate limits, in-memory
# JetStream), minus trace logging, the experimental MSCs and the identity servers on the internet.
generate-config -ci -server "$SERVER_NAME" -dir /data \
  | sed -e 's/^\(  *level:\) trace$/\1 info/' \
        -e '/^  - msc[0-9]*$/d' -e 's/^  mscs:$/  mscs: []/' \
        -e '/^  - matrix\.org$/d' -e '/^  - vector\.im$/d' \
        -e 's/^  trusted_third_party_id_servers:$/  trusted_third_party_id_servers: []/' \
  >/data/dendrite.yaml
generate-keys --private-key /data/matrix_key.pem >/dev/null

set -- --config /data/dendrite.yaml --really-enable-open-registration --http-bind-address "$BIND:$CLIENT_PORT"
if [ -r "$CA/ca.crt" ] && [ -r "$CA/ca.key" ]; then
  # A server certificate from the CA for localhost, 127.0.0.1 and the server name's host.
  case "$SERVER_NAME" in
    \[*) host="${SERVER_NAME#\[}"; host="${host%%\]*}" ;;
    *) host="${SERVER_NAME%:*}" ;;
  esac
  case "$host" in
    *:*) san="IP:$host" ;;
    *[!0-9.]*) san="DNS:$host" ;;
    *) san="IP:$host" ;;
  esac
  cat /etc/ssl/openssl.cnf >/data/openssl.cnf
  echo "subjectAltName = DNS:localhost, IP:127.0.0.1, $san" >>/data/openssl.cnf
  export OPENSSL_CONF=/data/openssl.cnf
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out /data/server.key 2>/dev/null
  openssl req -new -key /data/server.key -subj "/CN=$host" -out /data/server.csr
  openssl x509 -req -in /data/server.csr -CA "$CA/ca.crt" -CAkey "$CA/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
    -days 7 -extfile /data/openssl.cnf -extensions server -out /data/server.crt 2>/dev/null
  # Outbound federation trusts the CA (Go reads its roots from SSL_CERT_FILE).
  export SSL_CERT_FILE="$CA/ca.crt"
  set -- "$@" --https-bind-address "$BIND:$FED_PORT" --tls-cert /data/server.crt --tls-key /data/server.key
else
  echo "entrypoint: no CA in $CA; serving the client API only, federation over TLS is off" >&2
  set -- "$@" --https-bind-address "$BIND:$FED_PORT"
fi
exec dendrite "$@"
ENTRY
chmod +x "$RFS/entrypoint.sh"

# 3. Import it.
OLD_ID="$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
say "importing $(du -sh "$RFS" | cut -f1) root filesystem as $IMAGE"
tar -C "$RFS" --owner=0 --group=0 -c . | docker import \
  --change 'ENTRYPOINT ["/bin/sh", "/entrypoint.sh"]' \
  --change 'WORKDIR /data' \
  --change 'ENV PATH=/usr/local/bin:/bin' \
  --change 'EXPOSE 8008 8448' \
  --change 'LABEL org.matrix-conformance.ports-from-env=1' \
  --change "LABEL org.matrix-conformance.dendrite-version=$VERSION" \
  --message "Dendrite $VERSION (github.com/matrix-org/dendrite, Apache-2.0) in the Complement image contract" \
  - "$IMAGE" >/dev/null
NEW_ID="$(docker image inspect --format '{{.Id}}' "$IMAGE")"
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
  docker image rm "$OLD_ID" >/dev/null 2>&1 || say "the previous image $OLD_ID is still in use; left in place"
fi
say "built $IMAGE ($NEW_ID)"
