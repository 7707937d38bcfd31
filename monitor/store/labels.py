"""Labels: the analysts' verdicts on an article's tags, recorded from the web page and exported for training."""

from __future__ import annotations

from sqlmodel import col, select

from monitor.store.base import StoreBase
from monitor.store.models import Article, Label


class LabelStore(StoreBase):
    """The labels analysts record through the interface."""

    def add_label(self, article_id: str, tag: str, value: int, note: str | None = None) -> Label:
        with self._write() as s:
            label = Label(article_id=article_id, tag=tag, value=value, note=note)
            s.add(label)
            return label

    def labels(self) -> list[tuple[Label, Article]]:
        """Every label with its article, oldest first."""
        q = select(Label, Article).join(Article, col(Article.id) == col(Label.article_id)).order_by(col(Label.id))
        with self.session() as s:
            return [(label, a) for label, a in s.exec(q)]

    def article_labels(self, article_id: str) -> list[Label]:
        """The labels analysts gave one article, the latest per tag, oldest first."""
        q = select(Label).where(Label.article_id == article_id).order_by(col(Label.id))
        with self.session() as s:
            latest = {label.tag: label for label in s.exec(q)}
        return list(latest.values())
