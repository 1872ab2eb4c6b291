"""The schema in an editor: `yaml-language-server` (what VS Code's YAML extension runs) reads the
spec through the `# yaml-language-server: $schema=...` modeline the README documents.

Skipped unless the server is installed (`npm install yaml-language-server`, then on PATH or
named by `PKNET_YAML_LANGUAGE_SERVER`); CI does not install node packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pknet.specs.json_schema import spec_json_schema

REPO = Path(__file__).parents[2]
SERVER = os.environ.get("PKNET_YAML_LANGUAGE_SERVER") or shutil.which("yaml-language-server")
EXAMPLES = sorted(p for p in REPO.glob("examples/*/*.yaml") if not p.name.startswith("sweep"))

pytestmark = [
    pytest.mark.slow,  # a node process per spec
    pytest.mark.skipif(SERVER is None, reason="yaml-language-server is not installed"),
]


class _Server:
    """A language server over stdio, JSON-RPC messages framed by `Content-Length`."""

    def __init__(self, command: str):
        self.process = subprocess.Popen(
            [command, "--stdio"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        length = 0
        while line := self.process.stdout.readline().strip():
            key, _, value = line.decode().partition(":")
            if key.lower() == "content-length":
                length = int(value)
        return json.loads(self.process.stdout.read(length))


def _diagnostics(folder: Path, text: str) -> list[str]:
    """The messages the server publishes for `text` opened as `folder/spec.yaml`."""
    settings = {"validate": True, "schemaStore": {"enable": False}}
    uri = (folder / "spec.yaml").as_uri()
    server = _Server(SERVER)  # type: ignore[arg-type]
    try:
        capabilities = {"workspace": {"configuration": True}}
        init = {"processId": None, "rootUri": None, "capabilities": capabilities}
        server.send({"id": 1, "method": "initialize", "params": init})
        server.send({"method": "initialized", "params": {}})
        server.send(
            {
                "method": "workspace/didChangeConfiguration",
                "params": {"settings": {"yaml": settings}},
            }
        )
        document = {"uri": uri, "languageId": "yaml", "version": 1, "text": text}
        server.send({"method": "textDocument/didOpen", "params": {"textDocument": document}})
        while True:
            message = server.receive()
            if message.get("method") == "workspace/configuration":
                items = message["params"]["items"]
                server.send({"id": message["id"], "result": [settings for _ in items]})
            elif (
                message.get("method") == "textDocument/publishDiagnostics"
                and message["params"]["uri"] == uri
            ):
                return [d["message"] for d in message["params"]["diagnostics"]]
    finally:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("editor")
    (path / "pknet.schema.json").write_text(json.dumps(spec_json_schema()))
    return path


def _with_modeline(text: str) -> str:
    return "# yaml-language-server: $schema=pknet.schema.json\n" + text


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_editor_finds_nothing_wrong_in_the_examples(spec: Path, folder: Path) -> None:
    assert _diagnostics(folder, _with_modeline(spec.read_text(encoding="utf-8"))) == []


def test_the_editor_flags_unknown_keys_and_wrong_types(folder: Path) -> None:
    text = (REPO / "examples" / "kpnn_tcr" / "spec.yaml").read_text(encoding="utf-8")
    text = text.replace("  epochs: 200\n", "  epochs: lots\n  epoch: 3\n")
    messages = _diagnostics(folder, _with_modeline(text))
    assert messages == ['Incorrect type. Expected "integer".', "Property epoch is not allowed."]
