"""The dashboard's ES modules as one classic inline script, for a page opened from disk.

A file:// page cannot import modules (each import is a request, and the
report's policy forbids requests), so the modules the report needs are joined
into one script: each module's body runs in a function of its own (so two
modules' private names never clash) and returns what it exports; an
``import { a, b as c } from "./x.js"`` becomes a read of x's exports. Only the
forms the frontend uses are understood; anything else fails here, loudly,
rather than in a reader's browser.
"""

from __future__ import annotations

import json
import re

from backend.pages import FRONTEND_DIR

JS_DIR = FRONTEND_DIR / "js"
IMPORT = re.compile(r'^import\s*\{([^}]*)\}\s*from\s*"\./([\w-]+)\.js";[ \t]*$', re.MULTILINE)
EXPORT = re.compile(r"^export\s+(?:async\s+)?(function\*?|class|const|let)\s+([A-Za-z_$][\w$]*)", re.MULTILINE)
OTHER_MODULE_SYNTAX = re.compile(r"^\s*(import|export)\b", re.MULTILINE)


class BundleError(RuntimeError):
    pass


def _imports(source: str) -> list[tuple[str, list[tuple[str, str]]]]:
    found = []
    for match in IMPORT.finditer(source):
        names = []
        for item in match.group(1).split(","):
            if not item.strip():
                continue
            parts = item.split(" as ")
            names.append((parts[0].strip(), parts[-1].strip()))
        found.append((match.group(2), names))
    return found


def _binding(module: str, names: list[tuple[str, str]]) -> str:
    pairs = ", ".join(name if name == local else f"{name}: {local}" for name, local in names)
    return f"const {{ {pairs} }} = modules[{json.dumps(module)}];"


def _module_body(name: str, source: str) -> str:
    exports = [match.group(2) for match in EXPORT.finditer(source)]
    body = IMPORT.sub(lambda match: _binding(*_imports(match.group(0))[0]), source)
    body = EXPORT.sub(lambda m: m.group(0)[len("export"):].lstrip(), body)
    leftover = OTHER_MODULE_SYNTAX.search(body)
    if leftover:
        line = body[: leftover.start()].count("\n") + 1
        raise BundleError(f"frontend/js/{name}.js line {line}: module syntax the report's bundler does not know")
    return f"modules[{json.dumps(name)}] = (function () {{\n{body}\nreturn {{ {', '.join(exports)} }};\n}})();\n"


def _order(entry: str, sources: dict[str, str]) -> list[str]:
    """``entry`` and what it imports, dependencies first."""
    done: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            raise BundleError(f"import cycle through frontend/js/{name}.js")
        visiting.add(name)
        if name not in sources:
            sources[name] = (JS_DIR / f"{name}.js").read_text(encoding="utf-8")
        for dependency, _ in _imports(sources[name]):
            visit(dependency)
        visiting.discard(name)
        done.append(name)

    visit(entry)
    return done


def bundle(entry: str = "report") -> str:
    """frontend/js/<entry>.js and its imports as one script, read on every call (a few ms) like the pages."""
    sources: dict[str, str] = {}
    order = _order(entry, sources)
    parts = [_module_body(name, sources[name]) for name in order]
    return '"use strict";\n(function () {\nconst modules = {};\n' + "".join(parts) + "})();\n"

