"""`python -m local.fake_telegram --port P --token T [--webhook-url U --secret S] [--host H]
[--pre-checkout-timeout S]`.

The token may come from FAKE_TELEGRAM_TOKEN instead, which keeps it out of the process list.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType

from local.fake_telegram._app import FakeTelegramConfig, create_app
from local.fake_telegram._server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.fake_telegram", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--token",
        default=os.environ.get("FAKE_TELEGRAM_TOKEN"),
        help="the bot token the bot will use, e.g. 123456:TEST-TOKEN (default: $FAKE_TELEGRAM_TOKEN)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--webhook-url", help="deliver updates here before the bot calls setWebhook")
    parser.add_argument("--secret", help="the secret token sent with --webhook-url deliveries")
    parser.add_argument("--bot-username", default="imagebot_local_bot")
    parser.add_argument("--webhook-timeout", type=float, default=60.0)
    parser.add_argument(
        "--pre-checkout-timeout",
        type=float,
        default=float(os.environ.get("FAKE_TELEGRAM_PRE_CHECKOUT_TIMEOUT", "10")),
        help="seconds a pre-checkout query takes an answer (Telegram's 10; default: "
        "$FAKE_TELEGRAM_PRE_CHECKOUT_TIMEOUT or 10)",
    )
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token (or FAKE_TELEGRAM_TOKEN) is required")
    try:
        config = FakeTelegramConfig(
            token=args.token,
            bot_username=args.bot_username,
            webhook_url=args.webhook_url,
            secret_token=args.secret,
            webhook_timeout=args.webhook_timeout,
            pre_checkout_timeout=args.pre_checkout_timeout,
        )
        server = serve(args.host, args.port, create_app(config))
    except ValueError as error:
        parser.error(str(error))

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"fake Telegram Bot API on http://{args.host}:{server.server_port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
