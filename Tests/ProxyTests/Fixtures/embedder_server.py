"""A small OpenAI-compatible /v1/embeddings server for the tests: deterministic
embeddings (each word hashed into one of DIM buckets, then unit length, so texts
sharing words are near), and faults on demand.

    python3 embedder_server.py PORT_FILE [--dimension 16] [--key SECRET]

Writes its port to PORT_FILE once listening. The mode is read from PORT_FILE.mode
before each request (absent: "ok"): "slow" (answers after 3 s), "down" (503),
"garbage" (200, not JSON), "wrong-count" (one embedding too few), "refuse-long"
(400 for any text over 40 characters). After each request PORT_FILE.stats holds
{"requests": n, "texts": m, "last_auth": ...}.
"""

import argparse
import json
import os
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

state = {"requests": 0, "texts": 0, "last_auth": None}
lock = threading.Lock()


def embed(text, dimension):
    v = [0.0] * dimension
    for word in text.lower().split():
        v[zlib.crc32(word.strip(".,!?").encode()) % dimension] += 1.0
    if not any(v):
        v[0] = 1.0
    norm = sum(x * x for x in v) ** 0.5
    return [x / norm for x in v]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        try:
            mode = open(args.port_file + ".mode").read().strip()
        except OSError:
            mode = "ok"
        with lock:
            state["requests"] += 1
            state["texts"] += len(texts)
            state["last_auth"] = self.headers.get("Authorization")
            with open(args.port_file + ".stats.tmp", "w") as f:
                json.dump({k: state[k] for k in ("requests", "texts", "last_auth")}, f)
            os.rename(args.port_file + ".stats.tmp", args.port_file + ".stats")
        if args.key and self.headers.get("Authorization") != f"Bearer {args.key}":
            return self.reply(401, {"error": {"message": "Incorrect API key provided"}})
        if mode == "slow":
            time.sleep(3)
        if mode == "down":
            return self.reply(503, {"error": {"message": "model is loading"}})
        if mode == "garbage":
            return self.reply(200, b"<html>surprise</html>", "text/html")
        if mode == "refuse-long" and any(len(t) > 40 for t in texts):
            return self.reply(400, {"error": {"message": "input is too long"}})
        data = [{"object": "embedding", "index": i, "embedding": embed(t, args.dimension)} for i, t in enumerate(texts)]
        if mode == "wrong-count":
            data = data[1:]
        data.reverse()  # the index, not the order, says which text each is
        self.reply(200, {"object": "list", "model": body.get("model"), "data": data})


parser = argparse.ArgumentParser()
parser.add_argument("port_file")
parser.add_argument("--dimension", type=int, default=16)
parser.add_argument("--key", default="")
args = parser.parse_args()
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(args.port_file + ".tmp", args.port_file)
server.serve_forever()
