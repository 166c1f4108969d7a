"""Logs: one format for ours and the libraries', ids from context, secrets masked."""

from __future__ import annotations

import io
import json
import logging

import pytest

from agentrun import logs


@pytest.fixture
def configured():  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    saved_libs = {
        n: (list(logging.getLogger(n).handlers), logging.getLogger(n).propagate) for n in logs.LIBRARY_LOGGERS
    }

    def configure(fmt: str) -> io.StringIO:
        stream = io.StringIO()
        logs.configure("info", fmt, stream=stream)
        return stream

    yield configure
    for handler in list(root.handlers):
        if handler.name == "agentrun":
            root.removeHandler(handler)
    for handler in saved[0]:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(saved[1])
    for name, (handlers, propagate) in saved_libs.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.propagate = propagate


def test_json_lines_for_ours_and_the_libraries_with_context_ids(configured) -> None:  # type: ignore[no-untyped-def]
    # DBOS installs its own console handler and stops propagation when it starts.
    dbos = logging.getLogger("dbos")
    own = logging.StreamHandler(io.StringIO())
    dbos.addHandler(own)
    dbos.propagate = False
    stream = configured("json")
    assert own not in dbos.handlers and dbos.propagate
    request_token = logs.request_id_var.set("req-7")
    run_token = logs.run_id_var.set("run_abc")
    try:
        logging.getLogger("agentrun.services.worker").info("ours")
        dbos.error("theirs")  # DBOS sets its logger to ERROR when it starts (engine/durable.py)
        logging.getLogger("uvicorn.error").error("server said %s", "hi")
    finally:
        logs.run_id_var.reset(run_token)
        logs.request_id_var.reset(request_token)
    logging.getLogger("agentrun.x").info("outside")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("agentrun.services.worker", "ours"),
        ("dbos", "theirs"),
        ("uvicorn.error", "server said hi"),
        ("agentrun.x", "outside"),
    ]
    assert all(line["request_id"] == "req-7" and line["run_id"] == "run_abc" for line in lines[:3])
    assert "request_id" not in lines[3] and "run_id" not in lines[3]


def test_text_lines_carry_ids_and_mask_secrets(configured) -> None:  # type: ignore[no-untyped-def]
    stream = configured("text")
    token = logs.run_id_var.set("run_xyz")
    try:
        logging.getLogger("httpx").warning(
            "GET https://u:hunter2@db.example/x Authorization: Bearer sk-abcdefghijklmnopqrstu api_key=s3cr3tvalue"
        )
    finally:
        logs.run_id_var.reset(token)
    line = stream.getvalue().strip()
    assert "[run_id=run_xyz]" in line and "WARNING httpx" in line
    for secret in ("hunter2", "sk-abcdefghijklmnopqrstu", "s3cr3tvalue"):
        assert secret not in line, line
