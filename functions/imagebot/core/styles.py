"""The three styles as the user sees them. How each is drawn lives in gpu_service/styles.py."""

from __future__ import annotations

from imagebot.core.contract import STYLES

LABELS: dict[str, str] = {
    "ghibli": "Ghibli Art",
    "realistic": "Realistic",
    "pixel": "Pixel Art",
}
assert tuple(LABELS) == STYLES, "every contract style needs a label"


def label(style: str) -> str:
    return LABELS[style]
