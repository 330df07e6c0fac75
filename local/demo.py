"""`make demo`: the whole pipeline, start to finish, for each of the three styles, and a photo.

Brings the local stack up, plays a short chat per style (/start, a prompt, a style button) and
a photo chat (a photo drawn here with Pillow, sent without a caption, a style button), saves
the pictures under out/, prints the chat transcripts and each job's per-stage timings from its
Firestore document, and shuts everything down.
"""

from __future__ import annotations

import io
import logging
import sys
import time
from pathlib import Path

from google.cloud import firestore
from PIL import Image, ImageDraw

from local.fake_telegram_client import FakeTelegram
from local.scenarios import Drawing, draw
from local.stack import ROOT, LocalStack, StackConfig

CHAT_ID = 1001
PHOTO_CHAT_ID = 1002
PHOTO_STYLE = "ghibli"
PROMPTS = {
    "ghibli": "a quiet village by the sea, summer afternoon",
    "realistic": "a lighthouse on a cliff at sunset",
    "pixel": "a knight and a dragon in a forest",
}
STAGES = ("received", "awaiting_style", "validated", "queued", "generating", "generated", "delivered")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    started = time.monotonic()
    stack = LocalStack(StackConfig())
    try:
        stack.start()
        print(f"stack up in {time.monotonic() - started:.1f}s (logs: {stack.config.log_dir})\n")
        with FakeTelegram(stack.telegram_api_base) as tg:
            tg.send_text(chat_id=CHAT_ID, user_id=CHAT_ID, text="/start", first_name="Ann")
            drawings = [draw(tg, CHAT_ID, prompt, style) for style, prompt in PROMPTS.items()]
            drawings.append(draw(tg, PHOTO_CHAT_ID, "", PHOTO_STYLE, photo=street_photo()))
            stack.wait_idle()  # the last status message removed (deliver_image is done)
            print_transcript(tg.chat(CHAT_ID)["transcript"])
            print_transcript(tg.chat(PHOTO_CHAT_ID)["transcript"], "\nphoto chat transcript:")
        saved = [save(drawing, out) for drawing in drawings]
        print_timings(drawings, firestore.Client(project=stack.config.project))
        print("\nphotos:")
        for path, (width, height) in saved:
            print(f"  {path.relative_to(ROOT)}  {width}x{height}")
        return 0
    finally:
        stack.stop()


def street_photo() -> bytes:
    """A "photo" made here, as a phone would send it (a JPEG): a sky, a sun, a house, a road."""
    image = Image.new("RGB", (1280, 960), (135, 190, 235))
    pen = ImageDraw.Draw(image)
    pen.rectangle((0, 620, 1280, 960), fill=(90, 150, 70))
    pen.polygon([(520, 960), (760, 960), (660, 620), (620, 620)], fill=(120, 120, 120))
    pen.ellipse((980, 90, 1140, 250), fill=(255, 220, 90))
    pen.rectangle((220, 400, 480, 640), fill=(200, 90, 60))
    pen.polygon([(200, 400), (500, 400), (350, 270)], fill=(110, 60, 40))
    pen.rectangle((320, 520, 380, 640), fill=(80, 50, 30))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def save(drawing: Drawing, out: Path) -> tuple[Path, tuple[int, int]]:
    image = Image.open(io.BytesIO(drawing.png))
    image.verify()  # a truncated or corrupt file fails here, and so does the demo
    # PNG for pixel art, JPEG for the others: the extension follows what the service sent.
    extension = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}[image.format or "PNG"]
    name = f"photo-{drawing.style}" if drawing.from_photo else drawing.style
    path = out / f"{name}.{extension}"
    path.write_bytes(drawing.png)
    return path, image.size


def print_transcript(transcript: list[dict], title: str = "chat transcript:") -> None:
    print(title)
    for entry in transcript:
        who = "user" if entry["from"] == "user" else " bot"
        if entry["event"] == "callback":
            what = f"[presses the button {entry['data']}]"
        elif "photo_file_id" in entry:
            what = f"[photo] {entry.get('caption', '')}"
        elif entry["event"] == "deleted":
            what = f"[deletes message {entry['message_id']}]"
        elif entry["event"] == "edited":
            what = f"[edits message {entry['message_id']}] {entry.get('text', '')}"
        else:
            what = entry.get("text") or entry.get("caption") or f"[{entry['event']}]"
        print(f"  {who}: {what}".replace("\n", " / "))


def print_timings(drawings: list[Drawing], db: firestore.Client) -> None:
    print("\nper-stage latency (ms) from each job's Firestore document; webhook = HTTP round trip:")
    header = ["job", "style", "webhook prompt", "webhook button", *STAGES[1:], "total"]
    print("  " + " | ".join(header))
    for drawing in drawings:
        times = db.collection("jobs").document(drawing.job_id).get().get("times")
        row = [drawing.job_id, drawing.style]
        row += [f"{drawing.webhook_ms['prompt']:.0f}", f"{drawing.webhook_ms['style button']:.0f}"]
        previous = times["received"]
        for stage in STAGES[1:]:
            if stage in times:
                row.append(f"{(times[stage] - previous).total_seconds() * 1000:.0f}")
                previous = times[stage]
            else:
                row.append("-")
        row.append(f"{(times['delivered'] - times['received']).total_seconds() * 1000:.0f}")
        print("  " + " | ".join(row))
    print("  (awaiting_style → validated is the time the user took to press a button)")


if __name__ == "__main__":
    sys.exit(main())
