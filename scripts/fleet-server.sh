#!/usr/bin/env bash
# The TLS front of `ota fleet serve`: nginx on loopback ends mutual TLS and forwards to the
# service (plain HTTP on loopback), adding the client certificate it verified
# (X-Client-Certificate, URL-escaped PEM) and the shared secret (X-Fleet-Proxy) the service
# requires on every request. Used by the fleet tests, `make demo` and `make bench`.
#
# Usage: scripts/fleet-server.sh start WORKDIR BACKEND_HOST:PORT CLIENT_CA_BUNDLE SECRET_FILE [CLIENT_CRL_PEM]
#          makes WORKDIR/server-ca.crt (the CA clients pin) and a localhost certificate once,
#          writes nginx.conf, starts nginx; prints the HTTPS port
#        scripts/fleet-server.sh secret FILE     writes a new random secret (0600)
#        scripts/fleet-server.sh stop WORKDIR
set -euo pipefail
cmd=$1
nginx=$(command -v nginx || echo /usr/sbin/nginx)
case "$cmd" in
secret)
    umask 077
    openssl rand -hex 32 > "$2"
    exit 0 ;;
stop)
    work=$2
    if [ -f "$work/nginx.pid" ]; then kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; fi
    exit 0 ;;
start) ;;
*) echo "usage: $0 start|stop|secret ..." >&2; exit 1 ;;
esac
work=$2 backend=$3 client_ca=$(realpath "$4") secret=$(tr -d '\n' < "$5") crl=${6:-}
mkdir -p "$work/logs" "$work/tmp"
work=$(realpath "$work")
# nginx's workers (nobody, when started as root) buffer request bodies in tmp/.
chmod 700 "$work/tmp"
if [ "$(id -u)" -eq 0 ]; then chown nobody "$work/tmp"; fi
if [ ! -f "$work/server.crt" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/O=ota sample/CN=ota fleet service CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$work/server-ca.key" -out "$work/server-ca.crt" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=ota sample/CN=localhost" \
        -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n' > "$work/server.ext"
    openssl x509 -req -in "$work/server.csr" -CA "$work/server-ca.crt" -CAkey "$work/server-ca.key" -CAcreateserial -days 3650 \
        -extfile "$work/server.ext" -out "$work/server.crt" 2>/dev/null
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
crl_line=""
if [ -n "$crl" ]; then crl_line="ssl_crl $(realpath "$crl");"; fi
umask 077
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log $work/logs/access.log;
    client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp; uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
    server {
        listen 127.0.0.1:$port ssl;
        server_name localhost;
        ssl_certificate $work/server.crt;
        ssl_certificate_key $work/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        # Mutual TLS: vehicles and compliance staff, each with a certificate of their CA.
        ssl_verify_client on;
        ssl_verify_depth 3;
        ssl_client_certificate $client_ca;
        $crl_line
        # A missing or refused client certificate (495, 496) is answered 401 by the service, which
        # records the refusal with nginx's reason (\$ssl_client_verify: NONE or FAILED:why). No
        # body goes on: only the request line's path, the certificate offered and the reason.
        error_page 495 496 =401 @refused;
        location @refused {
            rewrite ^ /v1/front-refusals break;
            proxy_pass http://$backend;
            proxy_method GET;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Client-Verify \$ssl_client_verify;
            proxy_set_header X-Client-Certificate \$ssl_client_escaped_cert;
            proxy_set_header X-Refused-Path \$request_uri;
            proxy_set_header X-Fleet-Proxy "$secret";
            proxy_set_header Host \$host;
        }
        client_max_body_size 65m;
        location / {
            proxy_pass http://$backend;
            proxy_http_version 1.1;
            proxy_request_buffering on;
            proxy_buffering off;
            proxy_read_timeout 600s;
            # Set here, so whatever a client sends under these names never reaches the service.
            proxy_set_header X-Client-Certificate \$ssl_client_escaped_cert;
            # SUCCESS on every request that gets here: the service records refusals only for
            # the 495/496 path above, so a client cannot write into the refusal log.
            proxy_set_header X-Client-Verify \$ssl_client_verify;
            proxy_set_header X-Fleet-Proxy "$secret";
            proxy_set_header Host \$host;
        }
    }
}
CONF
"$nginx" -p "$work" -c "$work/nginx.conf" -e "$work/logs/error.log" < /dev/null > /dev/null 2>&1
for _ in $(seq 50); do [ -s "$work/nginx.pid" ] && break; sleep 0.1; done
echo "$port"
