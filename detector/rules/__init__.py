"""Episode rules: persistent, stationary presence in a zone -> violation episodes (see `episodes.py`);
ridden bicycles and e-bikes are traffic, not parking (`riders.py`)."""

from detector.rules.episodes import EpisodeEvent, EpisodeState, RuleEngine, RuleSettings, box_iou
from detector.rules.policy import RulePolicy
from detector.rules.riders import drop_ridden

__all__ = ["EpisodeEvent", "EpisodeState", "RuleEngine", "RulePolicy", "RuleSettings", "box_iou", "drop_ridden"]
