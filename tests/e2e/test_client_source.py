"""The browser client's source keeps to the rules the CSP and the protocol rely on (no browser
needed): chat text only ever goes into the page as text, nothing is evaluated, and the templates
carry no inline script or style."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = ROOT / "web" / "static" / "watchparty" / "js"
# Every template of the project's apps (watchparty/, parties/, chat/, ...): the CSP covers them all.
TEMPLATES = sorted(path for path in ROOT.glob("*/templates/**/*.html") if ".venv" not in path.parts)

FORBIDDEN_JS = {
    "innerHTML": re.compile(r"\binnerHTML\b"),
    "outerHTML": re.compile(r"\bouterHTML\b"),
    "insertAdjacentHTML": re.compile(r"\binsertAdjacentHTML\b"),
    "document.write": re.compile(r"\bdocument\.write(ln)?\b"),
    "createContextualFragment": re.compile(r"\bcreateContextualFragment\b"),
    "DOMParser": re.compile(r"\bDOMParser\b"),
    "srcdoc": re.compile(r"\bsrcdoc\b"),
    "eval": re.compile(r"\beval\s*\("),
    "new Function": re.compile(r"\bnew\s+Function\b"),
    "string timer": re.compile(r"\bset(Timeout|Interval)\s*\(\s*['\"`]"),
}


def test_client_js_has_no_html_sinks_or_eval():
    files = sorted(JS_DIR.glob("*.js"))
    assert {path.name for path in files} >= {"api.js", "home.js", "room.js", "socket.js", "chat.js"}
    problems = [
        f"{path.name}:{number}: {name}"
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for name, pattern in FORBIDDEN_JS.items()
        if pattern.search(line)
    ]
    assert problems == []


def test_templates_have_no_inline_script_or_style():
    problems = []
    assert any(path.name == "room.html" for path in TEMPLATES)
    for path in TEMPLATES:
        text = path.read_text()
        for match in re.finditer(r"<script\b[^>]*>", text):
            if "src=" not in match.group(0):
                problems.append(f"{path.relative_to(ROOT)}: inline {match.group(0)}")
        if re.search(r"<style\b", text):
            problems.append(f"{path.relative_to(ROOT)}: <style> element")
        if re.search(r"\sstyle\s*=", text):
            problems.append(f"{path.relative_to(ROOT)}: style attribute")
        if re.search(r"\son[a-z]+\s*=", text):
            problems.append(f"{path.relative_to(ROOT)}: event handler attribute")
        if "javascript:" in text:
            problems.append(f"{path.relative_to(ROOT)}: javascript: URL")
    assert problems == []
