"""Do two backends find the same things? The check lives with the engines (auto-selection uses it too)."""

from detector.inference.agreement import agreement, matched, mutual_agreement

__all__ = ["agreement", "matched", "mutual_agreement"]
