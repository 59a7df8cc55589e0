#!/usr/bin/env bash
# Creates what deploy/compose.yaml needs for a trial: deploy/.env (database password, master
# key), deploy/secrets/ (HSM PINs) and deploy/tls/ (a local CA and a certificate for
# localhost). Never overwrites: remove a file to make it again. Not for production, where the
# certificate comes from the province's CA and the secrets from its secret store.
set -euo pipefail
cd "$(dirname "$0")"
umask 077
rand() { openssl rand -base64 "$1" | tr -d '/+=' | head -c "$2"; }

if [ ! -e .env ]; then
  {
    echo "POSTGRES_PASSWORD=$(rand 24 24)"
    echo "TESSERA_MASTER_KEY=$(openssl rand -base64 32)"
  } > .env
  echo "wrote deploy/.env"
fi
mkdir -p secrets tls
[ -e secrets/hsm_pin ] || { rand 12 12 > secrets/hsm_pin; echo "wrote deploy/secrets/hsm_pin"; }
[ -e secrets/hsm_so_pin ] || { rand 12 12 > secrets/hsm_so_pin; echo "wrote deploy/secrets/hsm_so_pin"; }
# The containers run as uid 10001 and must read the PIN files.
chmod 0644 secrets/hsm_pin secrets/hsm_so_pin

if [ ! -e tls/tessera.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=Tessera trial CA" -keyout tls/ca.key -out tls/ca.pem 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=localhost" -keyout tls/server.key -out tls/server.csr 2>/dev/null
  openssl x509 -req -in tls/server.csr -CA tls/ca.pem -CAkey tls/ca.key -CAcreateserial \
    -days 825 -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') \
    -out tls/server.pem 2>/dev/null
  cat tls/server.pem tls/server.key > tls/tessera.pem
  chmod 0644 tls/tessera.pem tls/ca.pem
  rm -f tls/server.csr tls/ca.srl
  echo "wrote deploy/tls/tessera.pem (trust deploy/tls/ca.pem in your browser or curl --cacert)"
fi
