#!/usr/bin/env bash
# Serves a TUF repository with nginx on loopback over mutually authenticated HTTPS (and plain
# HTTP on a second port, for the fault proxy of the tests). Used by `make demo`, the agent
# tests and `make bench`.
#
# Usage: scripts/repo-server.sh start WORKDIR REPOSITORY_DIR CLIENT_CA_PEM [CLIENT_CRL_PEM]
#          makes WORKDIR/server-ca.crt (the CA vehicles pin), a localhost server certificate,
#          nginx.conf; starts nginx; prints "HTTPS_PORT HTTP_PORT"
#        scripts/repo-server.sh stop WORKDIR
set -euo pipefail
cmd=$1 work=$2
nginx=$(command -v nginx || echo /usr/sbin/nginx)
if [ "$cmd" = stop ]; then
    if [ -f "$work/nginx.pid" ]; then kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; fi
    exit 0
fi
repo=$(realpath "$3") client_ca=$(realpath "$4") crl=${5:-}
mkdir -p "$work/logs" "$work/tmp"
work=$(realpath "$work")
if [ ! -f "$work/server.crt" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/O=ota sample/CN=ota repository CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$work/server-ca.key" -out "$work/server-ca.crt" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=ota sample/CN=localhost" \
        -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n' > "$work/server.ext"
    openssl x509 -req -in "$work/server.csr" -CA "$work/server-ca.crt" -CAkey "$work/server-ca.key" -CAcreateserial -days 3650 \
        -extfile "$work/server.ext" -out "$work/server.crt" 2>/dev/null
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
https_port=$(free_port) http_port=$(free_port)
crl_line=""
if [ -n "$crl" ]; then crl_line="ssl_crl $(realpath "$crl");"; fi
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections 64; }
http {
    access_log $work/logs/access.log;
    client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp; uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
    types { application/json json; application/octet-stream ota; }
    default_type application/octet-stream;
    sendfile on;
    server {
        listen 127.0.0.1:$https_port ssl;
        server_name localhost;
        ssl_certificate $work/server.crt;
        ssl_certificate_key $work/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        # Mutual TLS: only vehicles with a certificate from the vehicle CA (MIIT No.148).
        ssl_verify_client on;
        ssl_verify_depth 3;
        ssl_client_certificate $client_ca;
        $crl_line
        # No certificate (496) or a refused one (495): 401, so the agent can tell it apart.
        error_page 495 496 =401 /refused;
        location = /refused { internal; return 401 "client certificate refused\n"; }
        location / { root $repo; autoindex off; }
    }
    server {
        # Plain HTTP, loopback only: the upstream of the tests' fault proxy.
        listen 127.0.0.1:$http_port;
        location / { root $repo; autoindex off; }
    }
}
CONF
# nginx daemonizes: it must not keep our caller's output pipe open.
"$nginx" -p "$work" -c "$work/nginx.conf" -e "$work/logs/error.log" < /dev/null > /dev/null 2>&1
for _ in $(seq 50); do [ -s "$work/nginx.pid" ] && break; sleep 0.1; done
echo "$https_port $http_port"
