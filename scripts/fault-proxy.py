#!/usr/bin/env python3
"""A small HTTP fault proxy for the agent tests: forwards GETs (Range included) to an upstream
plain-HTTP server on loopback and injects the fault a control file names, re-read per request.

Usage: scripts/fault-proxy.py UPSTREAM_URL CONTROL_JSON     (prints its port, then serves)

Control file (JSON object; every key optional):
  "match": "substring"        only requests whose path contains it are faulted (default: all)
  "drop_after": N, "drop_times": K      send N body bytes then close the connection, K times
  "stall_after": N            send N body bytes then go silent (until the client gives up)
  "corrupt_at": OFFSET, "corrupt_times": K   flip a byte at this file offset, K times
  "extra": N                  send N bytes more than the file has (Content-Length includes them)
  "replace": {"/path": "FILE"}   serve FILE's bytes for this path (freeze, replay, mix-and-match)
  "status": {"/path": CODE}   answer this status with an empty body
Counters of the K-limited faults live in the control file's sibling CONTROL.state.
"""
import http.server
import json
import os
import socketserver
import sys
import threading
import time
import urllib.request

upstream, control = sys.argv[1].rstrip("/"), sys.argv[2]
lock = threading.Lock()


def load():
    try:
        with open(control) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def take(name, limit):
    """True while fault `name` has been used fewer than `limit` times (then counts one use)."""
    with lock:
        path = control + ".state"
        try:
            with open(path) as f:
                state = json.load(f)
        except (OSError, ValueError):
            state = {}
        used = state.get(name, 0)
        if used >= limit:
            return False
        state[name] = used + 1
        with open(path, "w") as f:
            json.dump(state, f)
        return True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        rules = load()
        faulted = rules.get("match", "") in self.path
        if faulted and self.path in rules.get("status", {}):
            self.send_response(rules["status"][self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if faulted and self.path in rules.get("replace", {}):
            with open(rules["replace"][self.path], "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        request = urllib.request.Request(upstream + self.path)
        if "Range" in self.headers:
            request.add_header("Range", self.headers["Range"])
        try:
            response = urllib.request.urlopen(request)
        except urllib.error.HTTPError as error:
            response = error
        length = int(response.headers.get("Content-Length", "0"))
        start = 0
        content_range = response.headers.get("Content-Range")
        if content_range:
            start = int(content_range.split(" ")[1].split("-")[0])
        extra = rules.get("extra", 0) if faulted else 0
        corrupt = None
        if faulted and "corrupt_at" in rules and start <= rules["corrupt_at"] < start + length and take("corrupt", rules.get("corrupt_times", 1)):
            corrupt = rules["corrupt_at"] - start
        drop = None
        if faulted and "drop_after" in rules and length > rules["drop_after"] and take("drop", rules.get("drop_times", 1)):
            drop = rules["drop_after"]
        stall = rules.get("stall_after") if faulted and length > rules.get("stall_after", length) else None
        self.send_response(response.status)
        for name in ("Content-Range", "Content-Type"):
            if response.headers.get(name):
                self.send_header(name, response.headers[name])
        self.send_header("Content-Length", str(length + extra))
        self.end_headers()
        # Streamed in 1 MiB pieces: the proxy's memory stays flat whatever the file size.
        sent = 0
        while True:
            piece = response.read(1 << 20)
            if not piece:
                break
            if corrupt is not None and sent <= corrupt < sent + len(piece):
                i = corrupt - sent
                piece = piece[:i] + bytes([piece[i] ^ 0xFF]) + piece[i + 1:]
            for limit, action in ((drop, "drop"), (stall, "stall")):
                if limit is not None and sent + len(piece) > limit:
                    self.wfile.write(piece[: limit - sent])
                    self.wfile.flush()
                    if action == "stall":
                        time.sleep(rules.get("stall_seconds", 30))
                    else:
                        self.connection.shutdown(2)
                    self.close_connection = True
                    return
            self.wfile.write(piece)
            sent += len(piece)
        if extra:
            self.wfile.write(b"X" * extra)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
