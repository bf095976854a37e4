"""A self-contained HTML report: sections of text, tables and images (relative links).

Used by ``ioflyby demo``; any job that wants a page a person can read can build a :class:`Report`.
Figures are shown at most 520 px wide; each links to its image at full resolution (click to
enlarge) and its caption gives that size. Written atomically: the page appears complete or not at all.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ioflyby.fileio import atomic_write_text

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } .subtitle { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figure img { max-width: 520px; max-height: 520px; border: 1px solid #ddd; background: #000; cursor: zoom-in; }
figure a:hover img { border-color: #888; }
figcaption { font-size: 0.85em; color: #555; max-width: 520px; } .full { color: #888; }
.ok { color: #176f2c; font-weight: bold; } .fail { color: #b00020; font-weight: bold; }
"""


@dataclass
class Section:
    """One titled part of the report."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    figures: list[tuple[Path, str]] = field(default_factory=list)

    def text(self, paragraph: str) -> Section:
        self.paragraphs.append(paragraph)
        return self

    def table(self, caption: str, rows: list[dict[str, Any]]) -> Section:
        self.tables.append((caption, rows))
        return self

    def figure(self, path: Path, caption: str) -> Section:
        self.figures.append((Path(path), caption))
        return self


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return f'<span class="{"ok" if value else "fail"}">{"pass" if value else "FAIL"}</span>'
    if isinstance(value, float):
        return html.escape(f"{value:.6g}")
    return html.escape(str(value))


def _full_size(path: Path) -> str:
    """" (W × H px, click to enlarge)" for an image a browser shows scaled down, from its header."""
    try:
        from PIL import Image

        with Image.open(path) as image:
            width, height = image.size
    except (OSError, ValueError):
        return ""
    return f" <span class='full'>({width} × {height} px, click to enlarge)</span>"


def _table_html(caption: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(row.get(c, ''))}</td>" for c in columns) + "</tr>" for row in rows)
    return f"<table><caption>{html.escape(caption)}</caption><tr>{head}</tr>{body}</table>"


@dataclass
class Report:
    """An HTML page of sections; images are linked relative to the page's folder."""

    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)

    def section(self, title: str) -> Section:
        part = Section(title)
        self.sections.append(part)
        return part

    def add(self, part: Section) -> Section:
        """Append a section built elsewhere (e.g. by a science package's ``*_report_section``)."""
        self.sections.append(part)
        return part

    def render(self, page_dir: Path) -> str:
        """The page as HTML text, image paths made relative to ``page_dir``."""
        parts = [
            "<!doctype html><html><head><meta charset='utf-8'>",
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{html.escape(self.title)}</h1><p class='subtitle'>{html.escape(self.subtitle)}</p>",
        ]
        for part in self.sections:
            parts.append(f"<h2>{html.escape(part.title)}</h2>")
            parts.extend(f"<p>{html.escape(p)}</p>" for p in part.paragraphs)
            parts.extend(_table_html(caption, rows) for caption, rows in part.tables)
            for path, caption in part.figures:
                link = html.escape(os.path.relpath(path, page_dir))
                parts.append(
                    f"<figure><a href='{link}' title='click to enlarge: the full image'><img src='{link}' "
                    f"alt='{html.escape(caption)}'></a><figcaption>{html.escape(caption)}"
                    f"{_full_size(path)}</figcaption></figure>"
                )
        parts.append("</body></html>")
        return "\n".join(parts)

    def write(self, path: Path) -> Path:
        """Write the page to ``path`` atomically (temporary file in the same folder, renamed)."""
        path = Path(path)
        return atomic_write_text(path, self.render(path.parent))
