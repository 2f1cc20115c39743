#!/bin/sh
# Makes a throwaway PKI for the tests: a CA, a server certificate for
# 127.0.0.1, ::1 and localhost signed by it, and an unrelated second CA for
# "wrong CA" tests.
#
#   tests/support/mkpki.sh DIR
#
# DIR/ca.pem ca.key server.pem server.key other-ca.pem other-ca.key
# Does nothing if DIR/server.pem already exists. Keys are mode 0600.
set -eu

dir=${1:?usage: mkpki.sh DIR}
[ -f "$dir/server.pem" ] && exit 0
mkdir -p "$dir"
umask 077

# Test binaries may run this at the same time: one makes the PKI, the others
# wait and then find it done (else one could pair another's CA with its cert).
exec 9>"$dir/.lock"
flock 9
[ -f "$dir/server.pem" ] && exit 0

# Work in a scratch directory and move the results in at the end, so an
# interrupted run never leaves a half-made PKI that looks complete.
tmp=$(mktemp -d "$dir/.mkpki.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

days=3650
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
  -subj "/CN=pam_dhis2 test CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
  -subj "/CN=pam_dhis2 unrelated test CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$tmp/other-ca.key" -out "$tmp/other-ca.pem" 2>/dev/null

openssl req -new -newkey rsa:2048 -nodes -sha256 \
  -subj "/CN=127.0.0.1" \
  -keyout "$tmp/server.key" -out "$tmp/server.csr" 2>/dev/null

cat >"$tmp/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost
EXT

openssl x509 -req -sha256 -days "$days" -in "$tmp/server.csr" \
  -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
  -extfile "$tmp/server.ext" -out "$tmp/server.pem" 2>/dev/null

chmod 0600 "$tmp"/*.key
chmod 0644 "$tmp"/*.pem
for f in ca.pem ca.key other-ca.pem other-ca.key server.key; do
  mv "$tmp/$f" "$dir/$f"
done
# server.pem last: its presence means the PKI is complete.
mv "$tmp/server.pem" "$dir/server.pem"
