"""Render folium elements without reading their output a second time as a Jinja template.

branca's ``MacroElement.render`` renders an element's ``header``/``html``/``script`` macro and
wraps the *output* in ``Element(text)``, which compiles that text as a new Jinja template. Two
consequences for a map built from user data:

- **template injection**: a description containing ``{{ ... }}`` is evaluated on the server
  when the page is rendered (``{{ 7*7 }}`` shows as ``49``; worse expressions reach Python
  objects), and one containing ``{% endfor %}`` makes rendering fail;
- **time**: every large layer's output (a megabyte of encoded events, thousands of aerodromes)
  is tokenised by Jinja once more for nothing: about half of the time a map took to render.

:func:`install` replaces ``MacroElement.render`` with the same steps around an element that
returns the rendered text as it is. ``layers`` installs it on import, so every map this project
builds is rendered this way.
"""

from __future__ import annotations

from typing import Any

from branca.element import Element, Figure, MacroElement

__all__ = ["RenderedText", "install"]


class RenderedText(Element):
    """Text already rendered by a macro: rendered again, it is returned unchanged."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "RenderedText"
        self.text = text

    def render(self, **kwargs: Any) -> str:
        """Return the text as it is (no template is involved)."""
        return self.text


def _render(self: MacroElement, **kwargs: Any) -> None:
    """``MacroElement.render`` of branca 0.8, with the macro output kept as plain text."""
    figure = self.get_root()
    if not isinstance(figure, Figure):
        raise TypeError("You cannot render this Element if it is not in a Figure.")
    macros = self._template.module.__dict__
    for part, target in (("header", figure.header), ("html", figure.html),
                         ("script", figure.script)):
        macro = macros.get(part)
        if macro is not None:
            target.add_child(RenderedText(str(macro(self, kwargs))), name=self.get_name())
    for element in self._children.values():
        element.render(**kwargs)


def install() -> None:
    """Make every ``MacroElement`` render through :func:`_render` (idempotent)."""
    if MacroElement.render is not _render:
        MacroElement.render = _render  # type: ignore[method-assign]
