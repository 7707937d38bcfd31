"""The article-extraction benchmark layout shared by ``eval extraction`` and ``eval stories``: a folder with
``ground-truth.json`` (``{key: {"articleBody", "url"}}``) and ``html/<key>.html``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from monitor.core.errors import MonitorError

TRUTH = "ground-truth.json"


class EvaluationError(MonitorError):
    """An evaluation's input is missing or malformed."""


@dataclass(frozen=True)
class Page:
    key: str
    url: str
    body: str  # the human-written article body
    html_path: Path

    def html(self) -> str:
        try:
            return self.html_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise EvaluationError(f"cannot read page {self.html_path}: {exc}") from None


def load_pages(path: Path) -> list[Page]:
    """The pages of a benchmark folder, in the order of its ground truth; clear errors for a bad folder."""
    truth_file = path / TRUTH
    try:
        data = json.loads(truth_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvaluationError(f"{truth_file} not found (the folder needs {TRUTH} and html/<key>.html)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationError(f"cannot read {truth_file}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise EvaluationError(f"{truth_file}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise EvaluationError(f'{truth_file}: needs a non-empty object {{key: {{"articleBody": …, "url": …}}}}')
    pages = []
    for key, item in data.items():
        if not (isinstance(item, dict) and isinstance(item.get("articleBody"), str)
                and isinstance(item.get("url"), str)):
            raise EvaluationError(f'{truth_file}: entry {key!r} needs string "articleBody" and "url"')
        html_path = path / "html" / f"{key}.html"
        if not html_path.is_file():
            raise EvaluationError(f"{truth_file}: entry {key!r} has no page {html_path}")
        pages.append(Page(key, item["url"], item["articleBody"], html_path))
    return pages
