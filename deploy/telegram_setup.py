"""Register the webhook and the command menu with the Bot API, after a deploy.

    TELEGRAM_BOT_TOKEN=… TELEGRAM_WEBHOOK_SECRET=… python3 deploy/telegram_setup.py --url URL

The token and the secret come from the environment (Cloud Build's secretEnv, read from Secret
Manager) and are never printed: the token is part of every Bot API URL, so only method names
and Telegram's answers (with the token redacted, should one ever echo it) are logged.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

API = "https://api.telegram.org"
MAX_CONNECTIONS = 100

# The menu and the update kinds come from the bot's own code: the command registry and the
# parser are pure modules, importable here without the functions' libraries.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "functions"))
from imagebot.core import registry, updates  # noqa: E402

ALLOWED_UPDATES = list(updates.ALLOWED_UPDATES)


LOOPBACK = ("http://127.0.0.1:", "http://localhost:")  # the local stack's fake Bot API (rehearsal)


def set_webhook_params(url: str, secret: str) -> dict[str, Any]:
    if not url.startswith(("https://", *LOOPBACK)):
        raise ValueError("Telegram only calls https:// webhooks")
    return {
        "url": url,
        "secret_token": secret,
        "max_connections": MAX_CONNECTIONS,
        "allowed_updates": ALLOWED_UPDATES,
    }


def set_commands_calls() -> list[dict[str, Any]]:
    return registry.menu_calls()


def redact(text: str, *secrets: str) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def call(token: str, method: str, params: dict[str, Any], api: str = API) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{api}/bot{token}/{method}",
        data=json.dumps(params).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read() or b"{}") or {"ok": False, "description": f"HTTP {error.code}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="the public webhook URL (terraform output webhook_url)")
    parser.add_argument("--api", default=API)
    args = parser.parse_args(argv)
    token, secret = os.environ.get("TELEGRAM_BOT_TOKEN", ""), os.environ.get("TELEGRAM_WEBHOOK_SECRET", "")
    if not token or not secret:
        print("TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET must be set", file=sys.stderr)
        return 2

    failed = False
    for method, params in [("setWebhook", set_webhook_params(args.url, secret))] + [
        ("setMyCommands", params) for params in set_commands_calls()
    ]:
        answer = call(token, method, params, args.api)
        description = redact(str(answer.get("description", "")), token, secret)
        print(f"{method}: {'ok' if answer.get('ok') else 'FAILED'} {description}")
        failed = failed or not answer.get("ok")
    # What Telegram now holds (the URL it will call; the smoke test reads the same answer).
    info = call(token, "getWebhookInfo", {}, args.api).get("result") or {}
    registered = info.get("url") == args.url
    print(f"getWebhookInfo: {'ok' if registered else 'FAILED'} url {'matches' if registered else 'differs'}")
    return 1 if failed or not registered else 0


if __name__ == "__main__":
    sys.exit(main())
