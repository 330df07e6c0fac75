"""The peer of bench/webhook_load.py: an aiogram 3 webhook bot doing the webhook's work.

    <bench venv>/bin/python bench/aiogram_peer.py --port 8080   # env: PUBSUB_EMULATOR_HOST, ...

The way aiogram's documentation builds a webhook bot (aiohttp, `SimpleRequestHandler` with a
secret token, compared by `secrets.compare_digest`), with the same work as `telegram_webhook`:
a wrong secret is refused; /start is answered in the response (reply-in-response: aiogram
writes a returned method into the answer); every other message and every button press is
published to the same Pub/Sub topic with the same client library (google-cloud-pubsub, its
future awaited through asyncio), with the update_id and kind attributes, and answered only once
the publish is confirmed (`handle_in_background=False`); a button press is answered with
answerCallbackQuery in the response. Unlike `telegram_webhook` it reads no Firestore (the user's
chosen language for /start) and writes no log line per update.

It runs in the bench virtualenv (requirements/tools/bench.txt), not the functions' one.
"""

from __future__ import annotations

import argparse
import asyncio
import os

import uvloop
from aiogram import Bot, Dispatcher, F
from aiogram.client.default import DefaultBotProperties
from aiogram.filters import CommandStart
from aiogram.methods import AnswerCallbackQuery, SendMessage
from aiogram.types import CallbackQuery, Message, Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from google.cloud import pubsub_v1

PUBLISH_TIMEOUT_SECONDS = 10.0


def build_app(secret: str, project: str, topic: str) -> web.Application:
    publisher = pubsub_v1.PublisherClient()
    topic_path = publisher.topic_path(project, topic)
    dispatcher = Dispatcher()

    async def publish(update: Update, kind: str) -> None:
        data = update.model_dump_json(exclude_none=True).encode()
        future = publisher.publish(topic_path, data, update_id=str(update.update_id), kind=kind)
        await asyncio.wait_for(asyncio.wrap_future(future), PUBLISH_TIMEOUT_SECONDS)

    @dispatcher.message(CommandStart())
    async def start(message: Message) -> SendMessage:
        name = message.from_user.first_name if message.from_user else "friend"
        return message.answer(f"Hi, {name}! I draw pictures from your words.")

    @dispatcher.message(F.text)
    async def prompt(message: Message, event_update: Update) -> None:
        await publish(event_update, "prompt")

    @dispatcher.callback_query(F.data.startswith("style:"))
    async def button(query: CallbackQuery, event_update: Update) -> AnswerCallbackQuery:
        await publish(event_update, "button")
        return query.answer("✓")

    bot = Bot("123456:BENCH-FAKE-TOKEN", default=DefaultBotProperties(parse_mode="HTML"))
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, secret_token=secret, handle_in_background=False).register(
        app, path="/"
    )
    setup_application(app, dispatcher, bot=bot)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = build_app(
        os.environ["TELEGRAM_WEBHOOK_SECRET"],
        os.environ["GOOGLE_CLOUD_PROJECT"],
        os.environ.get("PROMPTS_TOPIC", "prompts"),
    )
    # uvloop, as uvicorn gives telegram_webhook: the comparison is of the servers, not the loops.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
