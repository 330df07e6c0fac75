"""Every text the bot sends, per language. No user-facing text lives anywhere else.

Texts are sent with parse_mode HTML: `render` escapes every value it fills in, so user text
can never become markup.
"""

from __future__ import annotations

import html
import string
from typing import Any

DEFAULT_LANGUAGE = "en"

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        "language_name": "English",
        "friend": "there",
        "start": (
            "Hi, {name}! I draw pictures from your words.\n\n"
            "Send me a prompt, for example <i>a lighthouse on a cliff at sunset</i>, "
            "or a photo to redraw in a style. "
            "Pick a default style below, or I'll ask each time."
        ),
        "start_with_default": (
            "Hi, {name}! I draw pictures from your words.\n\n"
            "Send me a prompt, for example <i>a lighthouse on a cliff at sunset</i>, "
            "or a photo to redraw in a style. "
            "Your default style is ticked below; tap another to change it."
        ),
        "help": (
            "<b>How it works</b>\n"
            "Send a prompt ({min}–{max} characters), pick a style, and the picture arrives in seconds.\n"
            "Or send a photo (a caption adds words, <code>--no …</code> too): it comes back in the style.\n\n"
            "<b>Shortcuts</b>\n"
            "/ghibli, /realistic, /pixel followed by a prompt – skip the question\n"
            "A last line <code>--no blurry, text</code> – what to leave out\n"
            "In any chat: type @ and my name, then a prompt – pick a style from the list\n"
            "✖ Cancel under the status – stop a picture (before drawing, it doesn't count)\n\n"
            "<b>Commands</b>\n"
            "/style – default style and aspect\n"
            "/limits – what's left today\n"
            "/history – your last pictures\n"
            "/enhance – turn detailed prompts on or off\n"
            "/lang – language\n"
            "/buy – more pictures for Telegram Stars · /paysupport – payments and refunds"
        ),
        "unknown_command": "I don't know that command. Send me a prompt, or /help.",
        "shortcut_usage": "Add a prompt after the command, for example: /{command} a cat in a hat",
        "choose_style": "Which style for “{prompt}”?",
        "answer_style": "{style} ✓",
        "answer_again": "🔁 Drawing again…",
        "answer_restyle": "🎨 {style}…",
        "answer_file": "📄 Sending the file…",
        "answer_drawn": "🔤 Adding what it was drawn from…",
        "answer_default": "Default style: {style} ✓",
        "answer_aspect": "{aspect} ✓",
        "answer_stale": "This button no longer works.",
        "answer_cancel": "✖ Cancelling…",
        "answer_not_yours": "Only the one who asked for this picture can use its buttons.",
        "button_cancel": "✖ Cancel",
        "cancelled": "✖ Cancelled. It doesn't count towards today's limit.",
        "cancelled_drawing": "✖ Cancelled. I won't send this picture.",
        "inline_draw_title": "🎨 Draw in {style}",
        "inline_placeholder": "🎨 Drawing “{prompt}” in {style}…",
        "inline_history_title": "{style}: {prompt}",
        "button_inline_change": "✏️ Another prompt",
        "inline_needs_chat": "To get pictures here, open a chat with me first (tap Start), then try again.",
        "queued": "⏳ {style}: you're number {position} in line, about {wait}.",
        "queued_next": "⏳ {style}: you're next, about {wait}.",
        "wait_seconds": "{seconds} s",
        "wait_minutes": "{minutes} min",
        "generating": "🎨 Drawing {style}…",
        "caption": "<b>{style}</b> · seed {seed}\n{prompt}",
        "caption_negative": "<b>{style}</b> · seed {seed}\n{prompt}\n<i>without:</i> {negative}",
        "button_again": "🔁 Again",
        "button_original": "📄 Original file",
        "button_drawn_as": "🔤 Drawn as",
        "caption_drawn_as": "\n<i>drawn as:</i> {drawn_as}",
        "button_other_style": "🎨 {style}",
        "button_same_seed": "🌱 {style}, same seed",
        "button_retry": "🔁 Try again",
        "rejected_empty": "Your prompt is empty. Describe what you want to see.",
        "rejected_too_short": "Your prompt is too short: at least {limit:character|characters}, please.",
        "rejected_too_long": "Your prompt is too long: at most {limit:character|characters}, please.",
        "rejected_blocked": "I can't draw that. Please try a different prompt.",
        "rejected_rate": "You're going a bit fast. Try again in {seconds} s.",
        "rejected_daily": "You've reached today's limit. It refills in {hours} h {minutes} min.",
        "rejected_paused": "The bot is paused for maintenance. Please try again a little later – sorry!",
        "rejected_flagged": "I can't send that picture: it was flagged as unsafe. Tap 🔁 Again for another.",
        "failed": "Sorry, I couldn't draw “{prompt}”. Tap to try again.",
        "failed_generic": "Sorry, something went wrong with your message. Please send it again.",
        "file_gone": "The original file is no longer stored. Tap 🔁 Again to draw it anew.",
        "style_menu": "Default style: <b>{style}</b>. Aspect: <b>{aspect}</b>. Tap to change.",
        "no_style": "none, I ask each time",
        "aspect_square": "Square",
        "aspect_portrait": "Portrait",
        "aspect_landscape": "Landscape",
        "lang_menu": "Choose your language:",
        "limits": (
            "Today you have used {used} of {limit:picture|pictures}; {left} left.\n"
            "The daily limit refills in {hours} h {minutes} min."
        ),
        "history_empty": "No pictures yet. Send me a prompt!",
        "history_caption": "<b>{style}</b>\n{prompt}",
        "history_caption_negative": "<b>{style}</b>\n{prompt}\n<i>without:</i> {negative}",
        "stats": (
            "<b>Today</b>\n"
            "Jobs: {jobs} · delivered {delivered} · failed {failed} · refused {rejected}"
            " · cancelled {cancelled}\n"
            "Queue: {queue}\n"
            "Latency to the photo: p50 {p50} s, p95 {p95} s\n"
            "Prompt cache: {hits} of {lookups} served without drawing ({rate})\n"
            "Vertex AI endpoint: {on_vertex} drawn there, {handed_back} handed back to Cloud Run\n"
            "Mode: <b>{mode}</b>"
        ),
        "paused": "⏸ Admissions paused. Queued pictures still arrive.",
        "resumed": "▶️ Admissions resumed.",
        "cmd_start": "Welcome and default style",
        "cmd_help": "How to use the bot",
        "cmd_style": "Default style and aspect",
        "cmd_limits": "What's left today",
        "cmd_history": "Your last pictures",
        "cmd_lang": "Language",
        "cmd_enhance": "Detailed prompts on or off",
        "enhance_on": (
            "✨ Detailed prompts on: I'll expand short prompts before drawing. /enhance again to turn it off."
        ),
        "enhance_off": "Detailed prompts off: I'll draw your words as they are.",
        "enhance_unavailable": "Detailed prompts are not available right now.",
        "cmd_ghibli": "Draw in Ghibli style: /ghibli <prompt>",
        "cmd_realistic": "Draw a realistic picture: /realistic <prompt>",
        "cmd_pixel": "Draw pixel art: /pixel <prompt>",
        # -- photos (core/photos.py): a refusal's text is "photo_" + PhotoRefusal, each filled
        # with PhotoLimits.text_values(); then what the photo flow says around a photo.
        "photo_not_an_image": (
            "I couldn't open this file as a picture. Send a photo, or a JPEG, PNG or WebP image."
        ),
        "photo_unsupported_format": (
            "I can't read this picture format. Send a JPEG, PNG or WebP image, or send it as a photo."
        ),
        "photo_truncated": (
            "This picture seems damaged or incomplete. Send it again, or send another JPEG, PNG or WebP."
        ),
        "photo_too_many_pixels": (
            "This picture is too large: at most {max_megapixels} megapixels. "
            "Send a smaller copy, or send it as a photo (Telegram makes it smaller)."
        ),
        "photo_too_small": (
            "This picture is too small to draw from. Send one at least {min_side} px on its shorter side."
        ),
        "photo_too_narrow": (
            "This picture is too long and narrow. Send one no longer than {max_aspect}:1, "
            "for example a normal portrait or landscape photo."
        ),
        "photo_too_big_file": "This file is too big: at most {max_megabytes} MB. Send a smaller one.",
        "photos_or_text": "I draw from text or from a photo. Send a prompt in words, or a photo.",
        "album_limit": "I'll draw only the first {limit} photos of an album.",
        "photo_caption": "<b>{style}</b> · from your photo · seed {seed}",
        "photo_caption_hint": "<b>{style}</b> · from your photo · seed {seed}\n{prompt}",
        # -- more than one picture (issue 16): the 2x2 grid, its ⬆ and 🔀, all three styles.
        "help_more": (
            "\n\n<b>More than one</b>\n"
            "🔲 4 variants, or /style → four at a time – a 2x2 choice; "
            "it counts as {grid_cost:picture|pictures}\n"
            "⬆1–⬆4 – that variant alone, at full size, free · 🔀1–🔀4 – four variations of it\n"
            "/all and a prompt, or 🎨 All three styles – the same seed in every style "
            "({set_cost:picture|pictures})"
        ),
        "limits_more": (
            "\nA 2x2 grid counts as {grid_cost:picture|pictures}, all three styles as {set_cost}; ⬆ is free."
        ),
        "cmd_all": "All three styles: /all <prompt>",
        "style_menu_count": " Pictures: <b>{count}</b>.",
        "count_1": "One at a time",
        "count_4": "Four at a time (2x2)",
        "answer_count": "{count} ✓",
        "button_grid": "🔲 4 variants",
        "button_all_styles": "🎨 All three styles",
        "button_upscale": "⬆{n}",
        "button_vary": "🔀{n}",
        "button_set_again": "🔁 {style}",
        "button_set_grid": "🔲 {style}",
        "button_set_file": "📄 {style}",
        "answer_grid": "🔲 Drawing four variants…",
        "answer_up": "⬆ Sending variant {n}…",
        "answer_vary": "🔀 Four variations of variant {n}…",
        "answer_all": "🎨 Drawing all three styles…",
        "title_grid": "{style}, 4 variants",
        "title_variation": "{style}, 4 variations of variant {n}",
        "caption_grid": "<b>{title}</b> · seeds {first}–{last}\n{prompt}",
        "caption_grid_flagged": "\n<i>Variants {flagged} were flagged as unsafe and left blank.</i>",
        "candidate_flagged": "Variant {n} was flagged as unsafe: there is nothing to send.",
        "set_header": "🎨 <b>All three styles</b> · seed {seed}\n{prompt}",
        "set_missing_flagged": "\n{style} was flagged as unsafe and is left out.",
        "set_missing_failed": "\n{style} could not be drawn.",
        "set_none": "\nNone of the three could be drawn. Tap to try a style again.",
        # -- the photo flow (chat/creation.py, flows/report_progress.py)
        "choose_style_photo": "Which style for your photo?",
        "failed_photo": "Sorry, I couldn't draw your photo. Tap to try again.",
        "photo_fetch_failed": "I couldn't get your photo from Telegram. Please send it again.",
        "photo_input_missing": "Your photo is no longer stored, so I can't draw it again. Send it once more.",
        # -- Stars: credits (core/ledger.py: a paid job that ends without a picture)
        "credits_back": "\n💫 Your {n:credit is|credits are} back.",
        # -- Stars: checkout (core/checkout.py, chat/payments.py): packs, invoices, credits,
        # refunds, /paysupport and /terms. A checkout refusal is "checkout_" + CheckoutRefusal;
        # a user's refund refusal is "refund_" + payments.RefundRefusal.
        "cmd_buy": "Buy picture packs with Stars",
        "cmd_paysupport": "Payments and refunds",
        "cmd_terms": "Terms of sale",
        "cmd_refund": "Refund an unused pack",
        "buy_packs": (
            "⭐ <b>Picture packs</b>\n"
            "Your free pictures come first each day; after them each picture uses one credit. "
            "Credits don't expire. Tap a pack to pay with Telegram Stars.\n"
            "An unused pack can be refunded within {days:day|days}: /paysupport."
        ),
        "buy_paused": "⏸ Sales are paused while the bot is paused. Please try again a little later.",
        "button_pack": "{pictures:picture|pictures} · {stars} ⭐",
        "answer_buy": "⭐ Sending the invoice…",
        "invoice_title": "{pictures:picture|pictures}",
        "invoice_description": (
            "{pictures:picture|pictures} to draw after your free daily ones. "
            "Unused, it can be refunded within {days:day|days} (/paysupport)."
        ),
        "checkout_paused": "Sales are paused for maintenance. Please try again a little later.",
        "checkout_unavailable": "Something went wrong on our side. Please try again in a moment.",
        "checkout_unknown_pack": "This pack is no longer on sale. Send /buy for the current ones.",
        "checkout_currency": "This invoice is out of date. Send /buy for a new one.",
        "checkout_amount": "This invoice is out of date. Send /buy for a new one.",
        "checkout_not_yours": "This invoice was made for someone else. Send /buy for your own.",
        "paid": "⭐ Thank you! {pictures:picture|pictures} added. You now have {held:credit|credits}.",
        "limits_credits": "\nCredits: {held} (used after the free pictures). /buy for more.",
        "rejected_daily_buy": "\nOr /buy a pack of pictures to go on now.",
        "refund_list": (
            "Packs you can have refunded: unused, bought in the last {days:day|days}. "
            "The Stars go back to your Telegram balance, and the pack's credits are removed."
        ),
        "button_refund": "↩ {pictures:picture|pictures} · {stars} ⭐ · {date}",
        "answer_refund": "↩ Refunding…",
        "refund_unknown": "You have no payment to refund. /buy shows the packs.",
        "refund_done": "This payment has been refunded already.",
        "refund_window": (
            "This pack was bought more than {days:day|days} ago, so it can't be refunded any more."
        ),
        "refund_used": (
            "Part of this pack has been used, so it can't be refunded: Telegram returns a payment whole. "
            "If something went wrong, see /paysupport."
        ),
        "refund_none": (
            "Nothing to refund: a pack can be refunded while it is unused, "
            "within {days:day|days} of buying it."
        ),
        "refund_made": (
            "↩ Refunded: {stars} ⭐ go back to your Telegram balance, and {credits:credit|credits} "
            "were removed. You now have {held:credit|credits}."
        ),
        "refund_failed": (
            "Telegram couldn't make this refund, so nothing was taken: you have {held:credit|credits}. "
            "Please write to the operators (/paysupport)."
        ),
        "refund_under_way": (
            "↩ Your refund is under way: the credits are out, and the {stars} ⭐ go back to your "
            "Telegram balance once Telegram takes it (I keep trying). Nothing to press again."
        ),
        "refund_op_unknown": "No payment has that charge id.",
        "refund_op_made": "↩ Refunded {stars} ⭐ to user {user}; {credits:credit|credits} removed.",
        "refund_op_failed": "Telegram refused the refund ({error}); the user's credits are back.",
        "paused_paid_waits": (
            "⏸ The bot is paused for a while. Your paid picture keeps its place in line. Your credits "
            "are safe: if it can't be drawn soon, they come back by themselves."
        ),
        "stats_stars": (
            "\n<b>Stars</b>\n"
            "Paid: {paid} ⭐ in {payments:payment|payments} · "
            "refunded: {refunded} ⭐ in {refunds:refund|refunds}\n"
            "Credits held: {held} · spent: {spent}"
        ),
        "paysupport": (
            "<b>Payments and refunds</b>\n"
            "Picture packs are paid with Telegram Stars (/buy). Each picture uses your free daily "
            "pictures first, then one credit.\n\n"
            "A paid picture that fails, or that you cancel before it is drawn, gives its credits "
            "back by itself.\n\n"
            "<b>Refunds.</b> A pack you haven't used can be refunded within {days:day|days} of buying it: "
            "send /refund and tap the pack. The Stars go back to your Telegram balance. Telegram "
            "refunds a payment whole, so a partly used pack can't be refunded this way.\n\n"
            "<b>Anything else?</b> Write to this bot's operators{contact}. Telegram's own support "
            "can't help with purchases made in bots.\n\n"
            "Terms of sale: /terms"
        ),
        "terms": (
            "<b>Terms of sale</b>\n"
            "1. You buy picture credits, paid with Telegram Stars. One credit draws one picture "
            "(a 2x2 grid or all three styles cost more: /limits).\n"
            "2. Credits are used after your free daily pictures. They don't expire while the bot runs.\n"
            "3. A paid picture that fails, or that you cancel before it is drawn, gives its credits back.\n"
            "4. An unused pack can be refunded within {days:day|days} of buying it (/refund). "
            "The operators may refund any payment.\n"
            "5. While the bot is paused, sales stop and paid pictures wait in line; no credit is lost.\n"
            "6. Pictures are drawn by a model and may be refused as unsafe. Don't ask for what is "
            "illegal or hurts people.\n"
            "Questions: /paysupport"
        ),
    },
    "ru": {
        # Вы-форма везде, как в продукте; числа с существительным — через "{n:форма|формы|форм}"
        # (render выбирает форму по правилу русского языка: 1, 2–4, 5+).
        "language_name": "Русский",
        "friend": "друг",
        "start": (
            "Привет, {name}! Я рисую картинки по вашему описанию.\n\n"
            "Пришлите описание, например: <i>маяк на скале на закате</i>, "
            "или фото — я перерисую его в нужном стиле. "
            "Выберите стиль по умолчанию ниже — или я буду спрашивать о нём каждый раз."
        ),
        "start_with_default": (
            "Привет, {name}! Я рисую картинки по вашему описанию.\n\n"
            "Пришлите описание, например: <i>маяк на скале на закате</i>, "
            "или фото — я перерисую его в нужном стиле. "
            "Ваш стиль по умолчанию отмечен ниже — чтобы сменить его, нажмите другой."
        ),
        "help": (
            "<b>Как это работает</b>\n"
            "Пришлите описание ({min}–{max:символ|символа|символов}), выберите стиль — "
            "и через несколько секунд придёт картинка.\n"
            "Или пришлите фото (в подписи можно добавить слова и <code>--no …</code>) — "
            "и я перерисую его в выбранном стиле.\n\n"
            "<b>Быстрые команды</b>\n"
            "/ghibli, /realistic, /pixel и описание — сразу в этом стиле, без вопроса\n"
            "Последняя строка <code>--no размытость, текст</code> — чего не должно быть на картинке\n"
            "В любом чате: @, моё имя и описание — затем выберите стиль в списке\n"
            "✖ Отменить под статусом — остановить картинку (отменённая до начала рисования "
            "не засчитывается в дневной лимит)\n\n"
            "<b>Команды</b>\n"
            "/style — стиль и формат по умолчанию\n"
            "/limits — сколько картинок осталось на сегодня\n"
            "/history — последние картинки\n"
            "/enhance — подробные описания: включить или выключить\n"
            "/lang — язык\n"
            "/buy — больше картинок за звёзды Telegram · /paysupport — оплата и возвраты"
        ),
        "unknown_command": "Не знаю такой команды. Пришлите описание или загляните в /help.",
        "shortcut_usage": "Добавьте описание после команды, например: /{command} кот в шляпе",
        "choose_style": "В каком стиле нарисовать «{prompt}»?",
        "answer_style": "{style} ✓",
        "answer_again": "🔁 Рисую ещё раз…",
        "answer_restyle": "🎨 {style}…",
        "answer_file": "📄 Отправляю файл…",
        "answer_drawn": "🔤 Показываю, по какому тексту нарисовано…",
        "answer_default": "Стиль по умолчанию: {style} ✓",
        "answer_aspect": "{aspect} ✓",
        "answer_stale": "Эта кнопка уже не работает.",
        "answer_cancel": "✖ Отменяю…",
        "answer_not_yours": "Кнопками этой картинки может пользоваться только тот, кто её заказал.",
        "button_cancel": "✖ Отменить",
        "cancelled": "✖ Отменено. В дневной лимит эта картинка не засчитана.",
        "cancelled_drawing": "✖ Отменено. Эту картинку я не пришлю.",
        "inline_draw_title": "🎨 Нарисовать: {style}",
        "inline_placeholder": "🎨 Рисую «{prompt}»: {style}…",
        "inline_history_title": "{style}: {prompt}",
        "button_inline_change": "✏️ Другое описание",
        "inline_needs_chat": "Чтобы получать картинки здесь, сначала откройте чат со мной (нажмите «Старт»).",
        "queued": "⏳ {style}: ваше место в очереди — {position}, ждать около {wait}.",
        "queued_next": "⏳ {style}: ваша очередь следующая, ждать около {wait}.",
        "wait_seconds": "{seconds} с",
        "wait_minutes": "{minutes} мин",
        "generating": "🎨 Рисую: {style}…",
        # «Зерно» — русский термин для seed (зерно генератора случайных чисел).
        "caption": "<b>{style}</b> · зерно {seed}\n{prompt}",
        "caption_negative": "<b>{style}</b> · зерно {seed}\n{prompt}\n<i>без:</i> {negative}",
        "button_again": "🔁 Ещё раз",
        "button_original": "📄 Исходный файл",
        "button_drawn_as": "🔤 Как нарисовано",
        "caption_drawn_as": "\n<i>нарисовано по:</i> {drawn_as}",
        "button_other_style": "🎨 {style}",
        "button_same_seed": "🌱 {style}, то же зерно",
        "button_retry": "🔁 Попробовать снова",
        "rejected_empty": "Описание пустое. Напишите, что вы хотите увидеть.",
        "rejected_too_short": "Описание слишком короткое: нужно хотя бы {limit:символ|символа|символов}.",
        "rejected_too_long": "Описание слишком длинное: не больше {limit:символа|символов|символов}.",
        "rejected_blocked": "Такое я нарисовать не могу. Попробуйте другое описание.",
        "rejected_rate": "Слишком много запросов подряд. Попробуйте снова через {seconds} с.",
        "rejected_daily": "Лимит на сегодня исчерпан. Он обновится через {hours} ч {minutes} мин.",
        "rejected_paused": "Бот на техническом обслуживании. Попробуйте чуть позже — извините!",
        "rejected_flagged": (
            "Эту картинку я отправить не могу: фильтр счёл её недопустимой. "
            "Нажмите 🔁 Ещё раз, чтобы нарисовать другую."
        ),
        "failed": "Извините, не получилось нарисовать «{prompt}». Нажмите кнопку, чтобы попробовать снова.",
        "failed_generic": "Извините, что-то пошло не так. Пожалуйста, отправьте сообщение ещё раз.",
        "file_gone": "Исходный файл больше не хранится. Нажмите 🔁 Ещё раз, чтобы нарисовать заново.",
        "style_menu": (
            "Стиль по умолчанию: <b>{style}</b>. Формат: <b>{aspect}</b>. Нажмите кнопку, чтобы изменить."
        ),
        "no_style": "не выбран, спрашиваю каждый раз",
        "aspect_square": "Квадратный",
        "aspect_portrait": "Вертикальный",
        "aspect_landscape": "Горизонтальный",
        "lang_menu": "Выберите язык:",
        "limits": (
            "Сегодня использовано {used} из {limit:картинки|картинок|картинок}, осталось {left}.\n"
            "Дневной лимит обновится через {hours} ч {minutes} мин."
        ),
        "history_empty": "Картинок пока нет. Пришлите описание!",
        "history_caption": "<b>{style}</b>\n{prompt}",
        "history_caption_negative": "<b>{style}</b>\n{prompt}\n<i>без:</i> {negative}",
        "stats": (
            "<b>Сегодня</b>\n"
            "Заданий: {jobs} · доставлено: {delivered} · сбоев: {failed} · отказов: {rejected}"
            " · отменено: {cancelled}\n"
            "Очередь: {queue}\n"
            "Время до картинки: медиана {p50} с, p95 {p95} с\n"
            "Кэш описаний: {hits} из {lookups} без повторного рисования ({rate})\n"
            "Vertex AI: нарисовано там — {on_vertex}, возвращено в Cloud Run — {handed_back}\n"
            "Режим: <b>{mode}</b>"
        ),
        "paused": "⏸ Приём заданий приостановлен. Картинки из очереди ещё придут.",
        "resumed": "▶️ Приём заданий возобновлён.",
        "cmd_start": "Приветствие и стиль по умолчанию",
        "cmd_help": "Как пользоваться ботом",
        "cmd_style": "Стиль и формат по умолчанию",
        "cmd_limits": "Сколько картинок осталось сегодня",
        "cmd_history": "Последние картинки",
        "cmd_lang": "Язык",
        "cmd_enhance": "Подробные описания: включить или выключить",
        "enhance_on": (
            "✨ Подробные описания включены: перед рисованием я дополню короткое описание деталями. "
            "Чтобы выключить, снова отправьте /enhance."
        ),
        "enhance_off": "Подробные описания выключены: рисую по вашему описанию как есть.",
        "enhance_unavailable": "Подробные описания сейчас недоступны.",
        "cmd_ghibli": "В стиле Ghibli: /ghibli <описание>",
        "cmd_realistic": "Реалистичная картинка: /realistic <описание>",
        "cmd_pixel": "Пиксель-арт: /pixel <описание>",
        # -- фото (core/photos.py): см. комментарий в "en".
        "photo_not_an_image": (
            "Не получилось открыть этот файл как картинку. Пришлите фото или изображение JPEG, PNG или WebP."
        ),
        "photo_unsupported_format": (
            "Такой формат я не читаю. Пришлите JPEG, PNG или WebP — или отправьте картинку как фото."
        ),
        "photo_truncated": (
            "Похоже, картинка повреждена или загрузилась не до конца. "
            "Пришлите её ещё раз или другую в JPEG, PNG или WebP."
        ),
        "photo_too_many_pixels": (
            "Картинка слишком большая: не больше {max_megapixels} Мп. "
            "Пришлите уменьшенную копию или отправьте как фото (Telegram её уменьшит)."
        ),
        "photo_too_small": (
            "Картинка слишком маленькая: короткая сторона должна быть не меньше "
            "{min_side:пикселя|пикселей|пикселей}."
        ),
        "photo_too_narrow": (
            "Картинка слишком вытянутая. Пришлите такую, где соотношение сторон не больше {max_aspect}:1, "
            "например обычное вертикальное или горизонтальное фото."
        ),
        "photo_too_big_file": "Файл слишком большой: не больше {max_megabytes} МБ. Пришлите файл поменьше.",
        "photos_or_text": "Я рисую по тексту или по фото. Пришлите описание словами или фотографию.",
        "album_limit": "Из альбома я нарисую только первые {limit} фото.",
        "photo_caption": "<b>{style}</b> · по вашему фото · зерно {seed}",
        "photo_caption_hint": "<b>{style}</b> · по вашему фото · зерно {seed}\n{prompt}",
        # -- больше одной картинки (issue 16): сетка 2x2, её ⬆ и 🔀, все три стиля.
        "help_more": (
            "\n\n<b>Больше одной</b>\n"
            "🔲 4 варианта или /style → по четыре – выбор из сетки 2x2; "
            "считается за {grid_cost:картинку|картинки|картинок}\n"
            "⬆1–⬆4 – этот вариант отдельно, в полном размере, бесплатно · 🔀1–🔀4 – четыре вариации его\n"
            "/all и описание или 🎨 Все три стиля – то же зерно во всех стилях "
            "({set_cost:картинка|картинки|картинок})"
        ),
        "limits_more": (
            "\nСетка 2x2 считается за {grid_cost:картинку|картинки|картинок}, "
            "все три стиля – за {set_cost}; ⬆ бесплатно."
        ),
        "cmd_all": "Во всех трёх стилях: /all <описание>",
        "style_menu_count": " Картинок: <b>{count}</b>.",
        "count_1": "По одной",
        "count_4": "По четыре (2x2)",
        "answer_count": "{count} ✓",
        "button_grid": "🔲 4 варианта",
        "button_all_styles": "🎨 Все три стиля",
        "button_upscale": "⬆{n}",
        "button_vary": "🔀{n}",
        "button_set_again": "🔁 {style}",
        "button_set_grid": "🔲 {style}",
        "button_set_file": "📄 {style}",
        "answer_grid": "🔲 Рисую четыре варианта…",
        "answer_up": "⬆ Отправляю вариант {n}…",
        "answer_vary": "🔀 Четыре вариации варианта {n}…",
        "answer_all": "🎨 Рисую во всех трёх стилях…",
        "title_grid": "{style}, 4 варианта",
        "title_variation": "{style}, 4 вариации варианта {n}",
        "caption_grid": "<b>{title}</b> · зёрна {first}–{last}\n{prompt}",
        "caption_grid_flagged": "\n<i>Варианты {flagged} фильтр счёл недопустимыми: они пустые.</i>",
        "candidate_flagged": "Вариант {n} фильтр счёл недопустимым: отправлять нечего.",
        "set_header": "🎨 <b>Все три стиля</b> · зерно {seed}\n{prompt}",
        "set_missing_flagged": "\n{style}: фильтр счёл рисунок недопустимым, его здесь нет.",
        "set_missing_failed": "\n{style}: нарисовать не получилось.",
        "set_none": "\nНи один из трёх не получился. Нажмите, чтобы попробовать стиль снова.",
        # -- фото: см. комментарий в "en".
        "choose_style_photo": "В каком стиле нарисовать ваше фото?",
        "failed_photo": (
            "Извините, не получилось нарисовать ваше фото. Нажмите кнопку, чтобы попробовать снова."
        ),
        "photo_fetch_failed": (
            "Не получилось загрузить ваше фото из Telegram. Пожалуйста, пришлите его ещё раз."
        ),
        "photo_input_missing": (
            "Ваше фото больше не хранится, поэтому нарисовать его заново не получится. Пришлите его ещё раз."
        ),
        # -- Stars: credits (см. комментарий в "en")
        "credits_back": "\n💫 Возвращаем вам {n:кредит|кредита|кредитов}.",
        # -- Stars: checkout: см. комментарий в "en".
        "cmd_buy": "Купить пакеты картинок за звёзды",
        "cmd_paysupport": "Оплата и возвраты",
        "cmd_terms": "Условия покупки",
        "cmd_refund": "Вернуть неиспользованный пакет",
        "buy_packs": (
            "⭐ <b>Пакеты картинок</b>\n"
            "Сначала каждый день тратятся бесплатные картинки, потом — по одному кредиту за картинку. "
            "Кредиты не сгорают. Нажмите на пакет, чтобы оплатить его звёздами Telegram.\n"
            "Неиспользованный пакет можно вернуть в течение {days:дня|дней|дней}: /paysupport."
        ),
        "buy_paused": "⏸ Продажи приостановлены, пока бот на паузе. Пожалуйста, попробуйте чуть позже.",
        "button_pack": "{pictures:картинка|картинки|картинок} · {stars} ⭐",
        "answer_buy": "⭐ Отправляю счёт…",
        "invoice_title": "{pictures:картинка|картинки|картинок}",
        "invoice_description": (
            "{pictures:картинка|картинки|картинок} сверх бесплатных ежедневных. "
            "Если пакет не использован, его можно вернуть в течение {days:дня|дней|дней} (/paysupport)."
        ),
        "checkout_paused": "Продажи приостановлены на время обслуживания. Пожалуйста, попробуйте чуть позже.",
        "checkout_unavailable": "У нас что-то пошло не так. Пожалуйста, попробуйте ещё раз через минуту.",
        "checkout_unknown_pack": "Этот пакет больше не продаётся. Отправьте /buy, чтобы увидеть текущие.",
        "checkout_currency": "Этот счёт устарел. Отправьте /buy, чтобы получить новый.",
        "checkout_amount": "Этот счёт устарел. Отправьте /buy, чтобы получить новый.",
        "checkout_not_yours": "Этот счёт выставлен другому человеку. Отправьте /buy, чтобы получить свой.",
        "paid": (
            "⭐ Спасибо! Добавлено: {pictures:картинка|картинки|картинок}. "
            "Теперь у вас {held:кредит|кредита|кредитов}."
        ),
        "limits_credits": "\nКредиты: {held} (тратятся после бесплатных картинок). Ещё — /buy.",
        "rejected_daily_buy": "\nИли купите пакет картинок (/buy), чтобы продолжить сейчас.",
        "refund_list": (
            "Пакеты, которые можно вернуть: не использованные и купленные за последние "
            "{days:день|дня|дней}. Звёзды вернутся на ваш баланс в Telegram, а кредиты пакета будут списаны."
        ),
        "button_refund": "↩ {pictures:картинка|картинки|картинок} · {stars} ⭐ · {date}",
        "answer_refund": "↩ Оформляю возврат…",
        "refund_unknown": "У вас нет платежа, который можно вернуть. Пакеты — в /buy.",
        "refund_done": "Этот платёж уже возвращён.",
        "refund_window": (
            "Этот пакет куплен больше {days:дня|дней|дней} назад, поэтому вернуть его уже нельзя."
        ),
        "refund_used": (
            "Часть этого пакета уже использована, поэтому вернуть его нельзя: Telegram возвращает "
            "платёж только целиком. Если что-то пошло не так, см. /paysupport."
        ),
        "refund_none": (
            "Возвращать нечего: пакет можно вернуть, пока он не использован, в течение "
            "{days:дня|дней|дней} после покупки."
        ),
        "refund_made": (
            "↩ Возврат оформлен: {stars} ⭐ вернутся на ваш баланс в Telegram, списано "
            "{credits:кредит|кредита|кредитов}. Осталось кредитов: {held}."
        ),
        "refund_failed": (
            "Telegram не смог оформить возврат, поэтому ничего не списано: у вас "
            "{held:кредит|кредита|кредитов}. Пожалуйста, напишите операторам (/paysupport)."
        ),
        "refund_under_way": (
            "↩ Возврат уже идёт: кредиты списаны, а {stars} ⭐ вернутся на ваш баланс в Telegram, "
            "как только Telegram его примет (я продолжаю пытаться). Нажимать ещё раз не нужно."
        ),
        "refund_op_unknown": "Платежа с таким идентификатором нет.",
        "refund_op_made": (
            "↩ Пользователю {user} возвращено {stars} ⭐; списано {credits:кредит|кредита|кредитов}."
        ),
        "refund_op_failed": "Telegram отказал в возврате ({error}); кредиты пользователя возвращены.",
        "paused_paid_waits": (
            "⏸ Бот ненадолго на паузе. Ваша оплаченная картинка сохраняет место в очереди. Кредиты "
            "в сохранности: если её не получится нарисовать в ближайшее время, они вернутся сами."
        ),
        "stats_stars": (
            "\n<b>Звёзды</b>\n"
            "Оплачено: {paid} ⭐, платежей: {payments} · возвращено: {refunded} ⭐, возвратов: {refunds}\n"
            "Кредитов на счетах: {held} · потрачено: {spent}"
        ),
        "paysupport": (
            "<b>Оплата и возвраты</b>\n"
            "Пакеты картинок оплачиваются звёздами Telegram (/buy). Каждая картинка сначала тратит "
            "бесплатные ежедневные, затем один кредит.\n\n"
            "Если оплаченная картинка не получилась или вы отменили её до начала рисования, "
            "кредиты вернутся сами.\n\n"
            "<b>Возвраты.</b> Неиспользованный пакет можно вернуть в течение {days:дня|дней|дней} после "
            "покупки: отправьте /refund и нажмите на пакет. Звёзды вернутся на ваш баланс в Telegram. "
            "Telegram возвращает платёж только целиком, поэтому частично использованный пакет так "
            "вернуть нельзя.\n\n"
            "<b>Другой вопрос?</b> Напишите операторам этого бота{contact}. Поддержка Telegram не "
            "помогает с покупками в ботах.\n\n"
            "Условия покупки: /terms"
        ),
        "terms": (
            "<b>Условия покупки</b>\n"
            "1. Вы покупаете кредиты на картинки и платите звёздами Telegram. Один кредит — одна "
            "картинка (сетка 2x2 или все три стиля стоят больше: /limits).\n"
            "2. Кредиты тратятся после бесплатных ежедневных картинок и не сгорают, пока бот работает.\n"
            "3. Если оплаченная картинка не получилась или вы отменили её до начала рисования, "
            "кредиты возвращаются.\n"
            "4. Неиспользованный пакет можно вернуть в течение {days:дня|дней|дней} после покупки "
            "(/refund). Операторы могут вернуть любой платёж.\n"
            "5. Пока бот на паузе, продажи остановлены, а оплаченные картинки ждут в очереди; "
            "кредиты не теряются.\n"
            "6. Картинки рисует модель, и она может отказать, если рисунок недопустим. Не просите "
            "того, что незаконно или вредит людям.\n"
            "Вопросы: /paysupport"
        ),
    },
}


def language_for(language_code: str | None) -> str:
    """The catalogue language for a Telegram `language_code` such as "ru" or "en-GB"."""
    base = (language_code or "").split("-")[0].lower()
    return base if base in CATALOGUE else DEFAULT_LANGUAGE


def user_language(chosen: str | None, language_code: str | None) -> str:
    """The language to answer a user in: the one they chose with /lang, else their app's."""
    return chosen if chosen in CATALOGUE else language_for(language_code)


def render(language: str, key: str, **values: Any) -> str:
    """A text with its values; strings are HTML-escaped, since every text is sent as HTML.

    A count names its noun's forms in the template, `{limit:символ|символа|символов}`, and is
    written with the one its language's rule picks ("5 символов"; `plural_form`)."""
    language = language if language in CATALOGUE else DEFAULT_LANGUAGE
    template = CATALOGUE[language][key]
    safe = {name: html.escape(v) if isinstance(v, str) else v for name, v in values.items()}
    return _Counting(language).format(template, **safe)


class _Counting(string.Formatter):
    def __init__(self, language: str) -> None:
        self._language = language

    def format_field(self, value: Any, format_spec: str) -> str:
        if "|" not in format_spec:
            return str(super().format_field(value, format_spec))
        return f"{value} {plural_form(self._language, int(value), format_spec.split('|'))}"


def plural_form(language: str, count: int, forms: list[str]) -> str:
    """The noun form for `count`: English has one and other (1 picture, 2 pictures); Russian
    one, few and many by the last digits (1, 21 картинка; 2–4, 22 картинки; 5–20, 11–14, 25
    картинок: CLDR's plural rules)."""
    n = abs(count)
    if language != "ru":
        return forms[0] if n == 1 else forms[-1]
    if n % 10 == 1 and n % 100 != 11:
        return forms[0]
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return forms[1]
    return forms[2]


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def wait_text(language: str, seconds: float) -> str:
    if seconds < 90:
        return render(language, "wait_seconds", seconds=max(1, round(seconds)))
    return render(language, "wait_minutes", minutes=round(seconds / 60))


def caption(
    language: str, style_label: str, prompt: str, seed: int, negative: str = "", drawn_as: str = ""
) -> str:
    """The photo's caption; `drawn_as` (the English the model read) when the user asks for it.
    Telegram counts the 1,024 characters after parsing the markup, so escaping does not count,
    and these cuts keep the whole well inside the limit."""
    key = "caption_negative" if negative else "caption"
    room = 400 if drawn_as else 700
    text = render(
        language,
        key,
        style=style_label,
        seed=seed,
        prompt=shorten(prompt, room),
        negative=shorten(negative, 200),
    )
    if drawn_as:
        text += render(language, "caption_drawn_as", drawn_as=shorten(drawn_as, 350))
    return text


def photo_caption(language: str, style_label: str, hint: str, seed: int, drawn_as: str = "") -> str:
    """A photo job's caption: the style it was drawn in, the caption's hint if there was one,
    and the English the model read when the user asks for it (as `caption`)."""
    if not hint:
        return render(language, "photo_caption", style=style_label, seed=seed)
    text = render(language, "photo_caption_hint", style=style_label, seed=seed, prompt=shorten(hint, 400))
    if drawn_as:
        text += render(language, "caption_drawn_as", drawn_as=shorten(drawn_as, 350))
    return text
