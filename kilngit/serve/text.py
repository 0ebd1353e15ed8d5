"""Model text as HTML: JSON pretty-printed, fenced code blocks highlighted (Pygments, CSS classes, no inline
script or style), everything else escaped. Outputs are untrusted: every character that reaches the page
passes through `html.escape` or Pygments' own escaping."""

from __future__ import annotations

import json
import re
from html import escape

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

_FENCE = re.compile(r"^```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_FORMATTER = HtmlFormatter(cssclass="hl", nowrap=False)
#: Longest text highlighted; longer texts are shown plain (highlighting is the slow part of a page).
MAX_HIGHLIGHT = 200_000


def css() -> str:
    """The stylesheet for highlighted code."""
    return str(_FORMATTER.get_style_defs(".hl"))


def render_text(text: str | None) -> Markup:
    """A model's input or output as HTML."""
    if text is None:
        return Markup("")
    pretty = pretty_json(text)
    if pretty is not None:
        return _code(pretty, "json")
    if len(text) > MAX_HIGHLIGHT:
        return Markup(f'<pre class="text">{escape(text)}</pre>')
    parts, last = [], 0
    for m in _FENCE.finditer(text):
        parts.append(_plain(text[last : m.start()]))
        parts.append(_code(m.group(2), m.group(1) or "text"))
        last = m.end()
    parts.append(_plain(text[last:]))
    return Markup("".join(parts))


def pretty_json(text: str) -> str | None:
    """`text` re-indented when it is a JSON object or array, else None."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        return json.dumps(json.loads(stripped), indent=2, ensure_ascii=False)
    except ValueError:
        return None


def _plain(text: str) -> str:
    return f'<pre class="text">{escape(text)}</pre>' if text.strip() else ""


def _code(code: str, language: str) -> Markup:
    try:
        lexer = get_lexer_by_name(language.lower())
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    return Markup(highlight(code, lexer, _FORMATTER))
