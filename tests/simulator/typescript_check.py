"""A second opinion on generated payloads: whatsapp-api-js's TypeScript type for a webhook
POST body (`PostData`), checked by tsc through examples/third_party/node/typecheck.mjs.

    errors = typecheck([payload, ...])   # [{"index": 0, "path": "$.entry[0]...", "message": ...}]

Needs node and `npm ci --prefix examples/third_party/node`; raises `NodeMissing` or
`NodeModulesMissing` (both RuntimeErrors) otherwise, so that a caller can skip on the first
and fail on the second under CI.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "examples" / "third_party" / "node"
SCRIPT = NODE_DIR / "typecheck.mjs"
INSTALL = "npm ci --prefix examples/third_party/node"


class NodeMissing(RuntimeError):
    """No `node` on PATH."""


class NodeModulesMissing(RuntimeError):
    """examples/third_party/node has no installed whatsapp-api-js or typescript."""


def typecheck(payloads: Sequence[Mapping[str, Any]], timeout: float = 300) -> list[dict[str, Any]]:
    """tsc's disagreements with whatsapp-api-js's `PostData`, one dict per diagnostic:
    `index` into `payloads`, `path` (a JSON path such as `$.entry[0].changes[0].field`,
    or "" when none), `message` (the diagnostic on one line). Empty: no disagreement."""
    node = shutil.which("node")
    if node is None:
        raise NodeMissing(f"node is not installed (Node.js 20 or later), then run: {INSTALL}")
    modules = NODE_DIR / "node_modules"
    for needed in ("whatsapp-api-js/package.json", "typescript/bin/tsc"):
        if not (modules / needed).is_file():
            raise NodeModulesMissing(f"{modules} has no {needed}: run {INSTALL}")
    with tempfile.TemporaryDirectory(prefix="fakemeta-typecheck-") as tmp:
        data = Path(tmp) / "payloads.json"
        data.write_text(json.dumps(list(payloads), ensure_ascii=False), encoding="utf-8")
        done = subprocess.run(
            [node, str(SCRIPT), str(data)],
            capture_output=True, text=True, encoding="utf-8", timeout=timeout, cwd=ROOT,
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"typecheck.mjs exited {done.returncode}: {done.stderr.strip()}")
    result = json.loads(done.stdout)
    if result["checked"] != len(payloads):
        raise RuntimeError(f"typecheck.mjs checked {result['checked']} of {len(payloads)}")
    errors: list[dict[str, Any]] = result["errors"]
    return errors
