#!/usr/bin/env bash
# A throwaway OpenLDAP directory for the README's LDAP example: slapd on
# loopback (ldaps://127.0.0.1:3636 and ldap://127.0.0.1:3389), a fresh CA
# and server certificate, a service account for the gateway, and two demo
# users. Everything lives in .ldap-demo/ and is recreated at each start;
# Ctrl-C stops slapd.
#
#   dc=example,dc=com
#     ou=people    uid=alice (password alice-password), uid=bob (bob-password)
#     ou=groups    cn=analysts (alice)
#     ou=services  cn=gateway (password in .ldap-demo/bind-password)
#
#   LDAP_DEMO_PORT   ldap:// port (default 3389); LDAPS_DEMO_PORT (default 3636)
#   LDAP_DEMO_DIR    where its files go (default .ldap-demo)
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${LDAP_DEMO_DIR:-$PWD/.ldap-demo}
PORT=${LDAP_DEMO_PORT:-3389}
TLSPORT=${LDAPS_DEMO_PORT:-3636}
SUFFIX=dc=example,dc=com
ROOTDN=cn=admin,$SUFFIX
SLAPD=/usr/sbin/slapd

fail() { echo "ldap-demo: $*" >&2; exit 1; }

if [ ! -x "$SLAPD" ] || ! command -v ldapadd >/dev/null; then
  scripts/test-deps.sh || true
fi
[ -x "$SLAPD" ] || fail "slapd is not installed (Debian: apt-get install slapd ldap-utils)"
command -v ldapadd >/dev/null || fail "ldapadd is not installed (Debian: apt-get install ldap-utils)"
command -v openssl >/dev/null || fail "openssl is not installed"

# Recreate the directory, but never empty one this script did not make.
if [ -n "$(ls -A "$DIR" 2>/dev/null)" ] && [ ! -e "$DIR/slapd.conf" ]; then
  fail "$DIR is not empty and holds no earlier demo (slapd.conf): choose another LDAP_DEMO_DIR"
fi
rm -rf "$DIR"
mkdir -m 0700 -p "$DIR/db"
umask 077

# A CA and a certificate for 127.0.0.1 and localhost.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=ldap-demo CA" \
  -keyout "$DIR/ca-key.pem" -out "$DIR/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$DIR/key.pem" -out "$DIR/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$DIR/ext.cnf"
openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca-key.pem" -CAcreateserial -days 30 \
  -extfile "$DIR/ext.cnf" -out "$DIR/cert.pem" 2>/dev/null
chmod 0644 "$DIR/ca.pem"

rootpw=$(openssl rand -base64 18)
bindpw=$(openssl rand -base64 18)
printf %s "$bindpw" > "$DIR/bind-password"

memberof=
[ -e /usr/lib/ldap/memberof.la ] && memberof=yes
{
  for s in core cosine inetorgperson nis; do echo "include /etc/ldap/schema/$s.schema"; done
  echo "pidfile $DIR/slapd.pid"
  echo "modulepath /usr/lib/ldap"
  echo "moduleload back_mdb"
  [ -n "$memberof" ] && echo "moduleload memberof"
  echo "TLSCACertificateFile $DIR/ca.pem"
  echo "TLSCertificateFile $DIR/cert.pem"
  echo "TLSCertificateKeyFile $DIR/key.pem"
  echo "access to attrs=userPassword by self write by anonymous auth by * none"
  echo "access to * by users read by * none"
  echo "database mdb"
  echo "suffix \"$SUFFIX\""
  echo "rootdn \"$ROOTDN\""
  echo "rootpw $(slappasswd -s "$rootpw")"
  echo "directory $DIR/db"
  echo "maxsize 33554432"
  [ -n "$memberof" ] && echo "overlay memberof"
} > "$DIR/slapd.conf"

"$SLAPD" -d 0 -f "$DIR/slapd.conf" -h "ldap://127.0.0.1:$PORT/ ldaps://127.0.0.1:$TLSPORT/" 2>"$DIR/slapd.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; exit 0' INT TERM
trap 'kill "$pid" 2>/dev/null || true' EXIT

ldap() { "$@" -x -H "ldap://127.0.0.1:$PORT/" -D "$ROOTDN" -w "$rootpw"; }
for _ in $(seq 1 100); do
  ldap ldapsearch -b "" -s base >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || fail "slapd exited (port $PORT or $TLSPORT in use? set LDAP_DEMO_PORT/LDAPS_DEMO_PORT): $(cat "$DIR/slapd.log")"
  sleep 0.1
done
ldap ldapsearch -b "" -s base >/dev/null 2>&1 || fail "slapd did not answer within 10 s: $(cat "$DIR/slapd.log")"

ldap ldapadd >/dev/null <<LDIF
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
o: example
dc: example

dn: ou=people,$SUFFIX
objectClass: organizationalUnit
ou: people

dn: ou=groups,$SUFFIX
objectClass: organizationalUnit
ou: groups

dn: ou=services,$SUFFIX
objectClass: organizationalUnit
ou: services

dn: cn=gateway,ou=services,$SUFFIX
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: gateway
userPassword: $(slappasswd -s "$bindpw")

dn: uid=alice,ou=people,$SUFFIX
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Demo
userPassword: $(slappasswd -s alice-password)

dn: uid=bob,ou=people,$SUFFIX
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Demo
userPassword: $(slappasswd -s bob-password)

dn: cn=analysts,ou=groups,$SUFFIX
objectClass: groupOfNames
cn: analysts
member: uid=alice,ou=people,$SUFFIX
LDIF

cat <<MSG
ldap-demo: slapd is serving $SUFFIX on ldaps://127.0.0.1:$TLSPORT (and ldap://127.0.0.1:$PORT).
  users: alice / alice-password (group analysts), bob / bob-password
  CA: .ldap-demo/ca.pem   gateway's bind password: .ldap-demo/bind-password
With make run going, in another terminal:

  export GATEWAYCTL_CONFIG=.gateway/gatewayctl.yaml
  bin/gatewayctl alias create ldap-bind --topology corp < .ldap-demo/bind-password
  bin/gatewayctl alias create ldap-ca --topology corp < .ldap-demo/ca.pem
  bin/gatewayctl topology deploy server/examples/topologies/corp.yaml
  curl -u alice:alice-password --cacert .gateway/ca.pem https://127.0.0.1:8443/gateway/corp/echo/hello

Ctrl-C stops slapd.
MSG
wait "$pid"
