"""Pure frontend modules evaluated in node, so their helpers are tested as the browser runs them."""

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FRONTEND_JS = Path(__file__).resolve().parents[2] / "frontend" / "js"


def evaluator(directory: Path, name: str) -> Callable[[str], Any]:
    """A function evaluating a JavaScript expression in node, with ``frontend/js/<name>.js`` imported as
    ``name``, and returning its value through JSON. Skips the test when node is not installed."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    # Copies with the .mjs suffix, so node loads them as ES modules without a package.json; the
    # modules' imports of each other are pointed at the copies.
    for source in FRONTEND_JS.glob("*.js"):
        text = re.sub(r'from "\./([\w-]+)\.js";', r'from "./\1.mjs";', source.read_text())
        (directory / f"{source.stem}.mjs").write_text(text)
    module = directory / f"{name}.mjs"

    def run(expression: str) -> Any:
        script = f"import * as {name} from {json.dumps(module.as_uri())}; console.log(JSON.stringify({expression}));"
        out = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    return run
