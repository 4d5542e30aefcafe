#!/usr/bin/env python3
"""A tiny OpenAI-compatible model stand-in on loopback, for a real Letta server in tests.

Letta needs *some* model to answer before a run completes and the user
message is kept in the agent's history. This server answers:

- ``POST /v1/chat/completions``: a ``send_message`` tool call (or the tool the
  request forces), non-streaming or as server-sent events when ``stream`` is set;
  a test can script one other call by writing ``tool_directive(name, args)``
  into the user message: the model then calls that tool with those arguments,
  and answers the tool's result with ``send_message`` quoting it;
- ``POST /v1/embeddings``: deterministic unit vectors of the requested size
  (``dimensions``, default 1536), as floats or base64 as the client asks;
- ``GET /v1/models``: ``fake-model`` and ``fake-embed``;
- ``GET /stats``: request counters, handy when a test wants to know whether
  Letta called the model at all.

Stdlib only, so it runs with any Python 3.11 without installing anything::

    python scripts/fake_model.py --port 0 --port-file /tmp/port
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import math
import os
import re
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CHAT_MODEL = "fake-model"
EMBED_MODEL = "fake-embed"
DEFAULT_DIM = 1536
REPLY_TEXT = "ok"

#: ``[[tool NAME BASE64URL-JSON]]`` in a user message: call NAME with those arguments (see tool_directive).
DIRECTIVE = re.compile(r"\[\[tool ([A-Za-z_][A-Za-z0-9_]*) ([A-Za-z0-9_=-]*)\]\]")

_stats: dict[str, int] = {}
_stats_lock = threading.Lock()


def _count(key: str) -> None:
    with _stats_lock:
        _stats[key] = _stats.get(key, 0) + 1


def _pick_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """Choose the function to call: a forced one, else send_message, else none or the first.

    Letta 0.11.7's agents finish a step when they call ``send_message`` (their
    terminal tool), so that is the preferred answer; a forced ``tool_choice``
    wins because the client would reject anything else. Letta 0.16.8's
    default agents have no ``send_message``: a plain text answer ends their
    turn, while calling some other tool would make them step again and again.
    """
    tools: list[dict[str, Any]] = [
        t.get("function", {}) for t in body.get("tools") or [] if t.get("type") == "function"
    ]
    if not tools:
        return None
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        forced = (choice.get("function") or {}).get("name")
        for tool in tools:
            if tool.get("name") == forced:
                return tool
    for tool in tools:
        if tool.get("name") == "send_message":
            return tool
    return tools[0] if choice == "required" else None


def _arguments_for(tool: dict[str, Any]) -> dict[str, Any]:
    """Fill a tool's required parameters with harmless values.

    Booleans are ``False`` on purpose: ``request_heartbeat: true`` would make
    Letta call the model again and again instead of ending the run.
    """
    params = tool.get("parameters") or {}
    props: dict[str, Any] = params.get("properties") or {}
    required = set(params.get("required") or [])
    args: dict[str, Any] = {}
    for name, schema in props.items():
        if name not in required and name != "message":
            continue
        kind = schema.get("type") if isinstance(schema, dict) else None
        if name == "message" or kind == "string":
            args[name] = REPLY_TEXT
        elif kind == "boolean":
            args[name] = False
        elif kind in ("integer", "number"):
            args[name] = 0
        elif kind == "array":
            args[name] = []
        elif kind == "object":
            args[name] = {}
        else:
            args[name] = REPLY_TEXT
    return args


def tool_directive(name: str, args: dict[str, Any]) -> str:
    """The text that makes this model call tool ``name`` with ``args`` (base64: Letta may quote the message)."""
    encoded = base64.urlsafe_b64encode(json.dumps(args).encode("utf-8")).decode("ascii")
    return f"[[tool {name} {encoded}]]"


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def _scripted_call(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The tool and arguments a directive in the user's latest turn asks for, when that tool is offered.

    The turn is every user message after the last answer: Letta Code's App
    Server may put a reminder of its own (say, that new skills are available)
    after the user's message, as a message of its own.
    """
    messages = list(body.get("messages") or [])
    found = None
    while messages and messages[-1].get("role") == "user" and found is None:
        found = DIRECTIVE.search(_text_of(messages.pop()))
    if found is None:
        return None
    tools = {t.get("function", {}).get("name"): t.get("function", {}) for t in body.get("tools") or []}
    tool = tools.get(found.group(1))
    if tool is None:
        return None
    args: dict[str, Any] = json.loads(base64.urlsafe_b64decode(found.group(2).encode("ascii")))
    if "request_heartbeat" in ((tool.get("parameters") or {}).get("properties") or {}):
        # Letta's older agent loop stops after a tool unless asked to go on: go on, to send_message.
        args["request_heartbeat"] = True
    return tool, args


def _tool_result(body: dict[str, Any]) -> str | None:
    """What the tool just called returned: the last message, or the one before Letta's heartbeat note."""
    messages = list(body.get("messages") or [])
    if messages and messages[-1].get("role") == "user" and "heartbeat" in _text_of(messages[-1]).lower():
        messages.pop()
    if not messages or messages[-1].get("role") != "tool":
        return None
    text = _text_of(messages[-1])
    try:
        wrapped = json.loads(text)
    except json.JSONDecodeError:
        return text
    # Letta wraps a tool's return as {"status": …, "message": …, "time": …}.
    return str(wrapped.get("message", text)) if isinstance(wrapped, dict) else text


def _usage(body: dict[str, Any]) -> dict[str, int]:
    prompt = sum(len(json.dumps(m)) // 4 for m in body.get("messages") or [])
    return {"prompt_tokens": prompt, "completion_tokens": 5, "total_tokens": prompt + 5}


def chat_completion(body: dict[str, Any]) -> dict[str, Any]:
    """A complete, non-streaming ``chat.completion`` object for ``body``."""
    scripted = _scripted_call(body)
    returned = None
    if scripted is not None:
        tool: dict[str, Any] | None = scripted[0]
        arguments = scripted[1]
    else:
        tool = _pick_tool(body)
        arguments = _arguments_for(tool) if tool is not None else {}
        returned = _tool_result(body)
        if tool is not None and tool.get("name") == "send_message" and returned is not None:
            arguments["message"] = returned
    message: dict[str, Any] = {"role": "assistant", "content": None}
    finish = "tool_calls"
    if tool is None:
        # An agent without send_message ends its turn with plain text: that quotes the tool's result too.
        message["content"] = returned if returned is not None else REPLY_TEXT
        finish = "stop"
    else:
        message["tool_calls"] = [
            {
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {"name": tool.get("name"), "arguments": json.dumps(arguments)},
            }
        ]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model") or CHAT_MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": _usage(body),
    }


def chat_chunks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The same answer as ``chat.completion.chunk`` events, for ``stream: true``."""
    full = chat_completion(body)
    base = {k: full[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    msg = full["choices"][0]["message"]
    delta: dict[str, Any] = {"role": "assistant", "content": msg["content"]}
    if "tool_calls" in msg:
        delta["tool_calls"] = [dict(tc, index=i) for i, tc in enumerate(msg["tool_calls"])]
    chunks = [
        base | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        base | {"choices": [{"index": 0, "delta": {}, "finish_reason": full["choices"][0]["finish_reason"]}]},
    ]
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append(base | {"choices": [], "usage": full["usage"]})
    return chunks


def embedding(text: str, dim: int) -> list[float]:
    """A deterministic unit vector for ``text``: same text, same vector."""
    seed = hashlib.sha256(text.encode("utf-8")).digest()
    raw = [((seed[i % len(seed)] + i * 31) % 251) / 125.0 - 1.0 for i in range(dim)]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [v / norm for v in raw]


def embeddings_response(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI ``/v1/embeddings`` answer; base64 when asked (the openai SDK asks by default)."""
    inputs = body.get("input")
    if isinstance(inputs, str) or (isinstance(inputs, list) and inputs and isinstance(inputs[0], int)):
        inputs = [inputs]
    inputs = inputs or [""]
    dim = int(body.get("dimensions") or DEFAULT_DIM)
    data = []
    for i, item in enumerate(inputs):
        vec = embedding(json.dumps(item) if not isinstance(item, str) else item, dim)
        encoded: Any = vec
        if body.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode("ascii")
        data.append({"object": "embedding", "index": i, "embedding": encoded})
    tokens = sum(len(str(x)) // 4 + 1 for x in inputs)
    return {
        "object": "list",
        "data": data,
        "model": body.get("model") or EMBED_MODEL,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def models_response() -> dict[str, Any]:
    """``GET /v1/models``: the two model ids the tests configure agents with."""
    return {
        "object": "list",
        "data": [
            {"id": CHAT_MODEL, "object": "model", "created": 0, "owned_by": "letta-switchboard"},
            {"id": EMBED_MODEL, "object": "model", "created": 0, "owned_by": "letta-switchboard"},
        ],
    }


class Handler(BaseHTTPRequestHandler):
    """Routes the few OpenAI endpoints Letta calls; anything else is a 404."""

    server_version = "fake-model/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")
        sys.stderr.flush()

    def _path(self) -> str:
        # Clients differ on whether the base URL ends in /v1; accept both.
        path = self.path.split("?", 1)[0].rstrip("/")
        return path[3:] if path.startswith("/v1/") else path

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return None
        return body if isinstance(body, dict) else None

    def do_GET(self) -> None:
        path = self._path()
        _count(f"GET {path}")
        if path == "/models":
            self._send_json(200, models_response())
        elif path.startswith("/models/"):
            model = path.split("/", 2)[2]
            self._send_json(200, {"id": model, "object": "model", "created": 0, "owned_by": "letta-switchboard"})
        elif path in ("/stats", "/health", ""):
            with _stats_lock:
                self._send_json(200, {"ok": True, "requests": dict(_stats)})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        path = self._path()
        _count(f"POST {path}")
        body = self._read_body()
        if body is None:
            self._send_json(400, {"error": {"message": "body is not a JSON object", "type": "invalid_request_error"}})
            return
        if path == "/chat/completions":
            if body.get("stream"):
                self._stream(chat_chunks(body))
            else:
                self._send_json(200, chat_completion(body))
        elif path == "/embeddings":
            self._send_json(200, embeddings_response(body))
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def _stream(self, chunks: list[dict[str, Any]]) -> None:
        # Content-Length would need the whole stream up front; closing the
        # connection marks the end instead, which every SSE client accepts.
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


def serve(host: str, port: int, port_file: Path | None = None) -> None:
    """Serve forever; write the bound port to ``port_file`` once listening."""
    httpd = ThreadingHTTPServer((host, port), Handler)
    httpd.daemon_threads = True
    bound = httpd.server_address[1]
    if port_file is not None:
        # Write-then-rename so a reader never sees a half-written number.
        tmp = port_file.with_suffix(".tmp")
        tmp.write_text(str(bound))
        os.replace(tmp, port_file)
    print(f"fake model listening on http://{host}:{bound}/v1", file=sys.stderr, flush=True)
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="OpenAI-compatible model stand-in for tests")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (keep it loopback)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the bound port here")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.host, args.port, args.port_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
