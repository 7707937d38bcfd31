"""Tagging engine: rule-based tags (config/tags.toml) and UK defence statements (config/officials.toml).

Pure: no database and no I/O beyond reading the config files in :meth:`Tagger.from_files` (tags, officials with
their ministers file, and the fitted model).
"""

from monitor.tagging.engine import Tagger
from monitor.tagging.errors import TaggingConfigError
from monitor.tagging.model import Evidence, Statement, TagDecision, TaggingResult

__all__ = ["Evidence", "Statement", "TagDecision", "Tagger", "TaggingConfigError", "TaggingResult"]
