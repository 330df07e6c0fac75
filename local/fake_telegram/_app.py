"""The HTTP face of the fake: the Bot API routes, file downloads, webhook delivery, /_fake/ controls."""

from __future__ import annotations

import hmac
import json
import math
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from flask import Flask, Response, jsonify, request, send_file, send_from_directory
from werkzeug.exceptions import HTTPException

from local.fake_telegram import _updates
from local.fake_telegram._checkout import Checkout
from local.fake_telegram._conversation import Conversation, ConversationError, optional_int
from local.fake_telegram._errors import BotApiError, bad_request, not_found, unauthorized
from local.fake_telegram._faults import make_fault
from local.fake_telegram._methods import BotApi
from local.fake_telegram._params import Params, Upload
from local.fake_telegram._store import Store, Webhook, now

_STATIC = Path(__file__).with_name("static")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DOWNLOAD_FAULT = "downloadFile"  # the fault name of file downloads (no Bot API method has it)
# The chat page shows text users and the bot wrote. It builds the page with DOM text nodes only;
# this policy is the second line: no inline script, no other origin, so injected markup cannot run.
_CHAT_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_CHAT_PAGE_ASSETS = {"chat.js": "text/javascript", "chat.css": "text/css"}
MAX_CHAT_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class FakeTelegramConfig:
    token: str
    bot_username: str = "imagebot_local_bot"
    bot_first_name: str = "Image Bot (local)"
    webhook_url: str | None = None
    secret_token: str | None = None
    # How long the fake waits for the webhook to answer (Telegram gives up after about a minute).
    webhook_timeout: float = 60.0
    # How long an inline query takes an answer (Telegram's window is a few seconds).
    inline_query_timeout: float = 10.0
    # How long a pre-checkout query takes an answer (Telegram's 10 seconds); the payer waits that long.
    pre_checkout_timeout: float = 10.0

    def bot(self) -> dict[str, Any]:
        bot_id, _, rest = self.token.partition(":")
        if not bot_id.isdigit() or not rest:
            raise ValueError("a bot token looks like '<digits>:<letters>', e.g. '123456:TEST-TOKEN'")
        return {
            "id": int(bot_id),
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }


class ControlError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


class WebhookSender:
    """Posts Updates to the registered webhook as Telegram does, one attempt per control request.

    Telegram retries a failed delivery by itself; here the test decides: redelivering an Update
    with the same update_id is how a test simulates Telegram's retry.
    """

    def __init__(self, store: Store, api: BotApi, timeout: float) -> None:
        self.store = store
        self.api = api
        self.timeout = timeout
        self.http = httpx.Client(timeout=timeout)

    def deliver(
        self,
        update: dict[str, Any],
        *,
        secret: str | None,
        omit_secret: bool,
        ignore_allowed_updates: bool = False,
    ) -> dict[str, Any]:
        with self.store.lock:
            webhook = self.store.webhook
        if webhook is None:
            raise ControlError(
                409, "no webhook is set: the bot must call setWebhook (or start with --webhook-url)"
            )
        outcome: dict[str, Any] = {
            "update_id": update["update_id"],
            "delivered": False,
            "status": None,
            "body": "",
            "error": None,
            "reply": None,
        }
        kind = _updates.update_kind(update)
        if not ignore_allowed_updates and not _updates.is_delivered(kind, webhook.allowed_updates):
            outcome["error"] = f"{kind} updates are not in allowed_updates; Telegram would not send this one"
            return outcome
        headers = {"Content-Type": "application/json"}
        secret_token = webhook.secret_token if secret is None else secret
        if secret_token and not omit_secret:
            headers[SECRET_HEADER] = secret_token
        if not webhook.connections.acquire(timeout=self.timeout):
            outcome["error"] = f"all {webhook.max_connections} webhook connections stayed busy"
            return outcome
        try:
            response = self.http.post(webhook.url, content=json.dumps(update).encode(), headers=headers)
        except httpx.HTTPError as error:
            self._note_error(webhook, f"Connection failed: {error!r}")
            outcome["error"] = f"{type(error).__name__}: {error}"
            return outcome
        finally:
            webhook.connections.release()
        outcome.update(delivered=True, status=response.status_code, body=response.text)
        if not response.is_success:
            self._note_error(
                webhook, f"Wrong response from the webhook: {_status_line(response.status_code)}"
            )
        elif response.status_code == 200:
            outcome["reply"] = self._reply_in_response(response)
        return outcome

    def close(self) -> None:
        self.http.close()

    def _note_error(self, webhook: Webhook, message: str) -> None:
        with self.store.lock:
            webhook.last_error_date = now()
            webhook.last_error_message = message

    def _reply_in_response(self, response: httpx.Response) -> dict[str, Any] | None:
        """Telegram runs a method named in the webhook's answer; only for a JSON or form body."""
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        values: dict[str, Any]
        if content_type == "application/json":
            try:
                body = response.json()
            except ValueError:
                return None
            if not isinstance(body, dict):
                return None
            values = body
        elif content_type == "application/x-www-form-urlencoded":
            values = dict(parse_qsl(response.text))
        else:
            return None
        name = values.pop("method", None)
        if not isinstance(name, str) or not name:
            return None
        return self.api.call(name, Params(values), via_webhook_response=True)


def _status_line(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def _params_from_request() -> Params:
    values: dict[str, Any] = request.args.to_dict()
    if request.mimetype == "application/json":
        body = request.get_json(silent=True)
        if request.get_data() and not isinstance(body, dict):
            raise bad_request("can't parse JSON object")
        values.update(body or {})
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values.update(request.form.to_dict())
    uploads = {
        name: Upload(
            name, storage.filename or name, storage.mimetype or "application/octet-stream", storage.read()
        )
        for name, storage in request.files.items()
    }
    return Params(values, uploads)


def _telegram_answer(payload: dict[str, Any], status: int) -> Response:
    response = jsonify(payload)
    response.status_code = status
    return response


def _control_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ControlError(400, "the body must be a JSON object")
    return body


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "yes")


def create_app(config: FakeTelegramConfig) -> Flask:
    store = Store(config.bot())
    api = BotApi(
        store,
        inline_query_timeout=config.inline_query_timeout,
        pre_checkout_timeout=config.pre_checkout_timeout,
    )
    conversation = Conversation(store, api)
    checkout = Checkout(store, config.pre_checkout_timeout)
    sender = WebhookSender(store, api, config.webhook_timeout)
    if config.webhook_url:
        store.webhook = Webhook(
            config.webhook_url, config.secret_token, 40, None, threading.BoundedSemaphore(40)
        )

    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # Telegram takes up to 50 MB per upload; the fake refuses beyond that with its 413.
    app.config["MAX_CONTENT_LENGTH"] = 60 * 1024 * 1024
    # For in-process owners: FakeTelegramServer closes the sender; a test may inspect the store.
    app.extensions["fake_telegram"] = {"store": store, "webhook_sender": sender}

    def send(update: dict[str, Any]) -> dict[str, Any]:
        return sender.deliver(
            update,
            secret=request.args.get("secret"),
            omit_secret=_flag("omit_secret"),
            ignore_allowed_updates=_flag("ignore_allowed_updates"),
        )

    def deliver(update: dict[str, Any], **extra: Any) -> Response:
        return jsonify({"ok": True, **send(update), **extra})

    @app.errorhandler(BotApiError)
    def bot_api_error(error: BotApiError) -> Response:
        return _telegram_answer(error.payload(), error.error_code)

    @app.errorhandler(ControlError)
    @app.errorhandler(ConversationError)
    def control_error(error: ControlError | ConversationError) -> Response:
        return _telegram_answer({"ok": False, "description": error.description}, error.status)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        # Telegram answers every path, even unknown ones, with its JSON error shape.
        code = error.code or 500
        description = {404: "Not Found", 405: "Method Not Allowed", 413: "Request Entity Too Large"}.get(
            code, error.name
        )
        return _telegram_answer({"ok": False, "error_code": code, "description": description}, code)

    # -- the Bot API ----------------------------------------------------------------------------

    @app.route("/bot<token>/<method_name>", methods=["GET", "POST"])
    def bot_api(token: str, method_name: str) -> Response:
        params = _params_from_request()
        if not hmac.compare_digest(token.encode(), config.token.encode()):
            record = api.refuse(method_name, params, unauthorized(), http_method=request.method)
        else:
            record = api.call(method_name, params, http_method=request.method)
        return _telegram_answer(record["response"], record["status"])

    @app.get("/file/bot<token>/<path:file_path>")
    def download(token: str, file_path: str) -> Response:
        if not hmac.compare_digest(token.encode(), config.token.encode()):
            raise unauthorized()
        # A download fails as a fault on "downloadFile" says (the name the bot's client gives
        # a download's errors), as a file server's 5xx or a lost file would.
        fault = store.faults.take(DOWNLOAD_FAULT)
        if fault is not None:
            time.sleep(fault.delay)
            if (error := fault.error()) is not None:
                raise error
        stored = store.file_at(file_path)
        if stored is None:
            raise not_found()
        return Response(stored.data, mimetype=stored.content_type)

    # -- controls for tests and the demo --------------------------------------------------------

    @app.get("/_fake/health")
    def health() -> Response:
        return jsonify({"ok": True})

    @app.post("/_fake/updates")
    def post_update() -> Response:
        update = _control_body()
        update["update_id"] = store.claim_update_id(optional_int(update, "update_id"))
        return deliver(update)

    @app.post("/_fake/messages")
    def post_message() -> Response:
        return deliver(conversation.user_message(_control_body()))

    @app.post("/_fake/callbacks")
    def post_callback() -> Response:
        return deliver(conversation.button_press(_control_body()))

    @app.post("/_fake/inline_queries")
    def post_inline_query() -> Response:
        query_id, update = conversation.inline_query(_control_body())
        return deliver(update, inline_query_id=query_id)

    @app.post("/_fake/chosen_inline_results")
    def post_chosen_inline_result() -> Response:
        message, update = conversation.choose_inline_result(_control_body())
        inline_message_id = update["chosen_inline_result"].get("inline_message_id")
        return deliver(update, message=message, inline_message_id=inline_message_id)

    @app.get("/_fake/inline_queries/<query_id>")
    def inline_answer(query_id: str) -> Response:
        with store.lock:
            query = store.inline_queries.get(query_id)
            if query is None:
                raise ControlError(404, f"no inline query {query_id}")
            return jsonify(
                {
                    "ok": True,
                    "query": query.query,
                    "answered": query.answer is not None,
                    "results": query.answer or [],
                }
            )

    @app.post("/_fake/payments")
    def post_payment() -> Response:
        return jsonify({"ok": True, **checkout.pay(_control_body(), send)})

    @app.post("/_fake/star_payments/refund")
    def refund_by_telegram() -> Response:
        return jsonify({"ok": True, **checkout.refund(_control_body(), send)})

    @app.get("/_fake/star_payments")
    def star_payments() -> Response:
        return jsonify({"ok": True, "payments": store.describe_star_payments()})

    @app.get("/_fake/calls")
    def list_calls() -> Response:
        try:
            since = int(request.args.get("since", "0"))
        except ValueError:
            raise ControlError(400, "since must be an integer") from None
        return jsonify({"ok": True, "calls": store.calls_since(since, request.args.get("method") or None)})

    @app.get("/_fake/in_flight")
    def in_flight() -> Response:
        return jsonify({"ok": True, "calls": store.calls_in_flight()})

    @app.get("/_fake/files/<file_id>")
    def file_bytes(file_id: str) -> Response:
        stored = store.file(file_id)
        if stored is None:
            raise ControlError(404, f"no file {file_id}")
        return Response(stored.data, mimetype=stored.content_type)

    @app.get("/_fake/chats/<int(signed=True):chat_id>")
    def chat(chat_id: int) -> Response:
        # Long polling: with ?wait=S&seen=V, answer once the chat's version is no longer V.
        if "wait" in request.args:
            try:
                wait = float(request.args["wait"])
                seen = int(request.args.get("seen", "0"))
            except ValueError:
                wait = math.nan
            if not math.isfinite(wait):
                raise ControlError(400, "wait must be a number of seconds and seen an integer")
            store.wait_for_chat_change(chat_id, seen, min(max(wait, 0.0), MAX_CHAT_WAIT_SECONDS))
        view = store.chat_view(chat_id)
        if view is None:
            raise ControlError(404, f"no chat {chat_id}")
        return jsonify({"ok": True, **view})

    @app.get("/_fake/webhook")
    def webhook_info() -> Response:
        with store.lock:
            info = store.webhook.describe() if store.webhook else {"url": ""}
            secret_set = bool(store.webhook and store.webhook.secret_token)
        return jsonify({"ok": True, "webhook": info, "secret_token_set": secret_set})

    @app.route("/_fake/faults", methods=["GET", "POST", "DELETE"])
    def faults() -> Response:
        if request.method == "POST":
            body = _control_body()
            method_name = body.get("method")
            if not isinstance(method_name, str) or not method_name:
                raise ControlError(400, "method is required")
            try:
                fault = make_fault(
                    body.get("error_code"),
                    retry_after=body.get("retry_after"),
                    description=body.get("description"),
                    delay=float(body.get("delay", 0)),
                )
                seconds = body.get("seconds")
                store.faults.inject(
                    method_name,
                    fault,
                    int(body.get("count", 1)),
                    None if seconds is None else float(seconds),
                )
            except (TypeError, ValueError) as error:
                raise ControlError(400, str(error)) from None
        elif request.method == "DELETE":
            store.faults.clear()
        return jsonify({"ok": True, "pending": store.faults.remaining()})

    @app.post("/_fake/reset")
    def reset() -> Response:
        store.reset()
        return jsonify({"ok": True})

    @app.get("/_fake/chat")
    def chat_page() -> Response:
        page = send_file(_STATIC / "chat.html", mimetype="text/html")
        page.headers["Content-Security-Policy"] = _CHAT_PAGE_POLICY
        return page

    @app.get("/_fake/chat/<name>")
    def chat_page_asset(name: str) -> Response:
        if name not in _CHAT_PAGE_ASSETS:
            raise ControlError(404, f"no asset {name}")
        return send_from_directory(_STATIC, name, mimetype=_CHAT_PAGE_ASSETS[name])

    return app
