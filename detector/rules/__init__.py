"""Episode rules: persistent, stationary presence in a zone -> violation episodes (see `episodes.py`)."""

from detector.rules.episodes import EpisodeEvent, EpisodeState, RuleEngine, RuleSettings, box_iou

__all__ = ["EpisodeEvent", "EpisodeState", "RuleEngine", "RuleSettings", "box_iou"]
