"""A fake Telegram Bot API server: it stands in for api.telegram.org over real HTTP.

The bot talks to it exactly as to Telegram (`<base>/bot<token>/<method>` with a query string, JSON,
url-encoded or multipart body; file downloads at `<base>/file/bot<token>/<file_path>`); every
call is recorded, every chat keeps a transcript, and Updates are delivered to the bot's webhook
with the `X-Telegram-Bot-Api-Secret-Token` header, as Telegram delivers them.

Controls for tests and the demo, outside the Bot API (all JSON):

    GET  /_fake/health                          readiness
    POST /_fake/updates    <Update>             deliver an Update (update_id assigned if missing)
    POST /_fake/messages   {chat_id, user_id, text | sticker: true, edited: true, message_id,
                            reply_to_message_id, language_code, first_name, username,
                            chat_type, update_id, message_thread_id (a forum topic's)}
                           or a medium instead of text: photo: <base64 bytes> (a PhotoSize
                            array; sent as a document with as_document: true, and so are bytes
                            Pillow cannot open), file_name, mime_type, caption, media_group_id
                            (an album is one such message per photo); animation | video |
                            video_note: true
    POST /_fake/callbacks  {chat_id, user_id, message_id, data, force}
    POST /_fake/inline_queries  {user_id, query, offset, chat_type} -> also {inline_query_id}
    GET  /_fake/inline_queries/<id>  {query, answered, results}: the answer the fake took
    POST /_fake/chosen_inline_results  {user_id, inline_query_id, result_id, chat_id}
                            places the result in chat_id (the user's own chat by default) via the
                            bot -> also {message, inline_message_id} (only with a keyboard)
    POST /_fake/payments  {chat_id, user_id, message_id (the invoice's), first_name, language_code}
                            the user pays a bot's invoice (sendInvoice, Stars only): the bot gets a
                            pre_checkout_query, answered in the webhook's response or by
                            answerPreCheckoutQuery within pre_checkout_timeout (10 s); on ok the
                            fake records the payment and sends a message update with
                            successful_payment -> {pre_checkout_query_id, pre_checkout (its
                            delivery), answered, accepted, error_message (a refusal's, as the
                            user sees it), telegram_payment_charge_id, successful_payment (its
                            delivery), update (resend it to redeliver), message}
    POST /_fake/star_payments/refund  {telegram_payment_charge_id}
                            Telegram refunds a payment by itself (its support, a dispute), not at
                            the bot's refundStarPayment: the ledger marks it refunded and the bot
                            gets a message update with refunded_payment, from the buyer in the
                            payment's chat; an unknown charge is a 404, one refunded already (by
                            either) a 409 -> {update, message, delivery (its delivery)}
    GET  /_fake/star_payments                   the fake's Stars ledger: each payment with
                                                refunded, refund_count (0 or 1) and refund_refusals
         the delivering controls take ?secret=<value> (send this secret instead),
         ?omit_secret=1, and ?ignore_allowed_updates=1 (deliver a kind the bot did not ask
         for), and answer {update_id, delivered, status, body, error, reply}; `reply` is the
         recorded call of a method the webhook named in its response, if any
    GET  /_fake/calls?method=sendPhoto&since=SEQ  recorded calls, oldest first
    GET  /_fake/files/<file_id>                 a stored file's bytes
    GET  /_fake/chats/<chat_id>                 {chat, version, messages (current state),
                                                transcript}; ?wait=S&seen=V long-polls: answers
                                                once the version is not V, or after S s (30 at most)
    GET  /_fake/webhook                         the webhook as set
    POST /_fake/faults     {method, count | seconds, error_code, retry_after, description, delay}
                           (method "downloadFile": the file downloads, /file/bot<token>/<path>)
    GET|DELETE /_fake/faults                    faults still pending / drop them all
    POST /_fake/reset                           forget calls, chats, files, payments and faults
                                                (not the webhook, the commands, or the last update_id)
    GET  /_fake/chat                            the playground: a web page to chat with the bot
                                                in a browser (?user=ID&name=N&lang=L), static
                                                assets under /_fake/chat/

Where it knowingly differs from Telegram:
- webhook URLs may be plain http (everything here is loopback);
- the largest PhotoSize is the uploaded file byte for byte (Telegram re-encodes it), so a test can
  compare what the bot sent with what it generated; smaller sizes are real JPEG thumbnails;
- a failed delivery is not retried by the fake: a test redelivers (same update_id) when it wants
  Telegram's retry;
- the bot may write to a chat no user ever opened (Telegram would answer 403);
- parse_mode is parsed to plain text with Telegram's grammar, simplified; entities come back for
  HTML only (the bot's mode), not for the Markdown modes;
- an inline result is placed in a chat the test names, as a message the fake keeps, so an edit
  by inline_message_id can be read back; answerInlineQuery checks article and photo results
  (photo_url + thumbnail_url, or photo_file_id) and refuses other types; as in Telegram, an
  inline message's new media is a file_id or a URL, never an upload (attach://);
- it is stricter than Telegram where Telegram fails silently: an InputMedia field Telegram does
  not know (reply_markup on an album item) and reply_markup on sendMediaGroup are 400s, and an
  album needs 2-10 items;
- a user's animation, video or video note carries stand-in bytes, not a playable file;
- Stars only: sendInvoice refuses any currency but XTR and any provider_token; an invoice is paid
  once (its Pay then answers 409); the bot's own refund (refundStarPayment) puts Telegram's
  refunded_payment service message in the chat but does not deliver it to the webhook (a test may
  send it with send_update), while a refund Telegram makes itself (/_fake/star_payments/refund)
  is delivered; where Telegram's documentation gives no error text (an invoice title's length,
  say) the fake's says what is wrong in words.

Run it with `python -m local.fake_telegram --port P --token T [--webhook-url U --secret S]`,
or in-process with `FakeTelegramServer`; `local.fake_telegram_client.FakeTelegram` drives the
controls.
"""

from local.fake_telegram._app import SECRET_HEADER, FakeTelegramConfig, create_app
from local.fake_telegram._server import FakeTelegramServer

__all__ = ["SECRET_HEADER", "FakeTelegramConfig", "FakeTelegramServer", "create_app"]
