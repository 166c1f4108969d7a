"""A tiny MCP stdio server in plain Python (no packages): it must run under Debian's python3
inside a sandbox, where the project's virtualenv is not visible.

Tools: ``whoami`` (what the process can see), ``write_note(text)`` / ``read_note()`` (a file in
its working directory, the sandbox's /workspace). Passed to ``python3 -c`` as SOURCE.
"""

from __future__ import annotations

SOURCE = r"""
import json, os, sys
MARKER = "agentrun-plain-mcp-server"
TOOLS = [
    {"name": "whoami", "description": "What this process sees.", "inputSchema": {"type": "object", "properties": {}}},
    {"name": "write_note", "description": "Write note.txt.", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}},
    {"name": "read_note", "description": "Read note.txt.", "inputSchema": {"type": "object", "properties": {}}},
]
def can_read(path):
    try:
        open(path).read(1)
        return True
    except OSError:
        return False
def call(name, args):
    if name == "whoami":
        return json.dumps({"uid": os.getuid(), "cwd": os.getcwd(), "env": sorted(os.environ),
                           "root": os.path.exists("/root"), "shadow": can_read("/etc/shadow"),
                           "work": os.path.exists("/work"), "pid": os.getpid()})
    if name == "write_note":
        with open("note.txt", "w") as f:
            f.write(args["text"])
        return "wrote note.txt"
    if name == "read_note":
        return open("note.txt").read()
    raise ValueError(name)
for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    method, result = msg.get("method"), {}
    if method == "initialize":
        result = {"protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
                  "serverInfo": {"name": MARKER, "version": "1"}}
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "tools/call":
        try:
            text, failed = call(msg["params"]["name"], msg["params"].get("arguments") or {}), False
        except Exception as exc:
            text, failed = f"{type(exc).__name__}: {exc}", True
        result = {"content": [{"type": "text", "text": text}], "isError": failed}
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}) + "\n")
    sys.stdout.flush()
"""
