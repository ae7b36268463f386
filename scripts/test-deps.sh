#!/usr/bin/env bash
# Installs the Debian packages the tests use, when they are missing and this
# user may install them (root, or passwordless sudo). Tests that need a
# package that could not be installed fail with a message saying so.
set -euo pipefail

# package:command pairs the integration tests need.
need=(
  "slapd:/usr/sbin/slapd"
  "ldap-utils:ldapadd"
  "krb5-kdc:/usr/sbin/krb5kdc"
  "krb5-admin-server:/usr/sbin/kadmin.local"
  "krb5-user:kinit"
  "curl:curl"
  "etcd-server:/usr/bin/etcd"
  "chromium:chromium"
  "python3-jwt:/usr/lib/python3/dist-packages/jwt"
  "python3-cryptography:/usr/lib/python3/dist-packages/cryptography"
  "curl:curl"
  "bsdutils:script"
)

# wscat (npm) for the WebSocket command-line test, which skips saying so
# when npm is absent.
if ! command -v wscat >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  npm install -g --silent wscat >/dev/null 2>&1 || echo "test-deps: npm install -g wscat failed; TestWebSocketWscat will skip" >&2
fi

missing=()
for pair in "${need[@]}"; do
  pkg=${pair%%:*} cmd=${pair#*:}
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "$cmd" ]; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "test-deps: missing ${missing[*]} and cannot install them (not root, no sudo)" >&2
  exit 0
fi
echo "test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null || true
# slapd's postinst would configure a system directory; tests run their own.
echo "slapd slapd/no_configuration boolean true" | "${sudo[@]}" debconf-set-selections
if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  echo "test-deps: could not install ${missing[*]}; tests that need them will say so" >&2
fi
