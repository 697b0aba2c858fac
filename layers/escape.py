"""One escaping helper for every piece of user text that reaches the map.

Folium does not escape popup or tooltip text, and it places that text inside JavaScript strings
and template literals as well as HTML. :func:`escape_text` makes a value inert in all of those
contexts at once, so layers call it exactly once per value and never build HTML from raw text.
"""

from __future__ import annotations

import html
import math

__all__ = ["escape_text"]

# Characters html.escape leaves alone but that matter inside JavaScript: `${...}` runs code in a
# template literal, a backtick ends one, a backslash starts an escape sequence (``C:\xdrive`` is a
# syntax error), and U+2028/U+2029 end a string literal in older engines. Raw CR/LF are encoded
# too so text never breaks a one-line string. Every replacement is a numeric character reference,
# so the browser shows the original character and html.unescape restores the original text.
_JS_TABLE = {
    ord("$"): "&#36;",
    ord("`"): "&#96;",
    ord("\\"): "&#92;",
    ord("\n"): "&#10;",
    ord("\r"): "&#13;",
    ord("\u2028"): "&#8232;",
    ord("\u2029"): "&#8233;",
}


def escape_text(value: object) -> str:
    r"""Make any value safe as HTML text and inside JavaScript strings and template literals.

    Parameters
    ----------
    value
        Anything; ``None`` and float NaN become the empty string, everything else goes through
        ``str()``.

    Returns
    -------
    str
        Text containing none of ``< > " ' ` \`` nor ``${`` raw. ``html.unescape`` of the result
        gives back ``str(value)`` exactly.

    Notes
    -----
    ``</script>`` is harmless after escaping because ``<`` becomes ``&lt;``; ampersands are
    escaped first, so existing entities in the input are shown literally, not interpreted.

    Examples
    --------
    >>> escape_text("<img src=x onerror=alert(1)>")
    '&lt;img src=x onerror=alert(1)&gt;'
    >>> escape_text("${alert(1)} `x` C:\\xdrive")
    '&#36;{alert(1)} &#96;x&#96; C:&#92;xdrive'
    >>> escape_text(None)
    ''
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value), quote=True).translate(_JS_TABLE)
