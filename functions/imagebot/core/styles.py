"""The three styles as the user sees them. How each is drawn lives in gpu_service/styles.py."""

from __future__ import annotations

from imagebot.core.vocabulary import STYLES

LABELS: dict[str, str] = {
    "ghibli": "Ghibli Art",
    "realistic": "Realistic",
    "pixel": "Pixel Art",
}
if tuple(LABELS) != STYLES:
    raise RuntimeError("every contract style needs a label, in the contract's order")


def label(style: str) -> str:
    return LABELS[style]
