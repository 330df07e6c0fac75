"""Telegram Stars in the chat: /buy and its invoices, a payment credited and told, refunds (a
user's own, an operator's, and those the sweep carries on), and the buyers told when a pause
holds their paid pictures. (/paysupport and /terms need no state: the webhook answers them,
flows/telegram_webhook.py.) The decisions are core/checkout.py and
core/payments.py; the ledger is ports.Payments.

A refund is one code path (`carry_refund`) whoever starts it: the credits are out first
(Payments.start_refund), then Telegram is asked for the Stars. A transient Bot API error raises,
so Pub/Sub redelivers the update (begin_update lets the same message run again) and the sweep
picks up what is left REFUNDING; Telegram's CHARGE_ALREADY_REFUNDED means an earlier try got
through; any other refusal is final: the credits go back (abort_refund) and the user is told.

Telegram may also refund a payment itself (its support, a dispute). Its refunded_payment message
(`record_telegram_refund`) then takes the same two steps on the ledger, by "telegram", so the
credits still held leave with the Stars; for a refund the bot made, the message changes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from imagebot.core import checkout, ledger, payments, texts
from imagebot.core.answer_to import AnswerTo
from imagebot.core.jobs import Job, State
from imagebot.core.ops import Mode
from imagebot.core.payments import Payment, PaymentState, RefundRefusal
from imagebot.core.updates import Button, Command, PaymentMade, PaymentRefunded, is_charge_id
from imagebot.edges.telegram import TelegramError
from imagebot.logs import fields
from imagebot.ports import Services

log = logging.getLogger(__name__)
# Who refunded a payment the bot did not refund itself (Payment.refund_by).
BY_TELEGRAM = "telegram"
# Jobs whose pictures a pause holds back (admission refuses new ones, charging nothing).
WAITING_STATES = (State.VALIDATED, State.QUEUED)


def show_packs(command: Command, rt: Services) -> None:
    """/buy: the packs as buttons, or, while paused, that sales are paused."""
    language = rt.users.language_of(command.user_id, command.language_code)
    to = AnswerTo.of_event(command)
    if rt.config.get_ops().mode == Mode.PAUSED:
        rt.bot.send_message(to, texts.render(language, "buy_paused"))
        return
    text = texts.render(language, "buy_packs", days=checkout.window_days())
    rt.bot.send_message(to, text, reply_markup=checkout.pack_buttons(language))


def send_pack_invoice(button: Button, rt: Services) -> None:
    """A pack's button: its invoice, payable by the one who pressed it (the payload says so,
    and the pre-checkout answer holds anyone else to it)."""
    language = rt.users.language_of(button.user_id, button.language_code)
    to = AnswerTo.of_event(button)
    pack = payments.pack(button.args[0])
    if pack is None:  # parse_update lets only PACK_IDS through; a pack taken off sale since
        rt.bot.send_message(to, texts.render(language, "checkout_unknown_pack"))
        return
    if rt.config.get_ops().mode == Mode.PAUSED:
        rt.bot.send_message(to, texts.render(language, "buy_paused"))
        return
    rt.bot.send_invoice(
        to,
        title=texts.render(language, "invoice_title", pictures=pack.pictures),
        description=texts.render(
            language, "invoice_description", pictures=pack.pictures, days=checkout.window_days()
        ),
        payload=payments.invoice_payload(pack.pack_id, button.user_id),
        stars=pack.stars,
    )


def credit_payment(paid: PaymentMade, rt: Services) -> None:
    """A successful_payment: its credits added once (the ledger is keyed by the charge id, so a
    redelivery adds nothing), and the buyer told once."""
    credit = checkout.credited(paid)
    context = fields(stage="payment", update_id=paid.update_id, chat_id=paid.chat_id)
    if credit.problem is not None:
        # The Stars came all the same: credited as paid, for an operator to look at.
        log.error(
            "payment not as invoiced: %s (payload %r, %s %s)",
            credit.problem,
            paid.invoice_payload,
            paid.total_amount,
            paid.currency,
            extra={**context, "reason": "mismatch"},
        )
    payment = Payment(
        charge_id=paid.charge_id,
        user_id=paid.user_id,
        pack_id=credit.pack_id,
        stars=paid.total_amount,
        credits=credit.credits,
        paid_at=rt.now(),
    )
    stored, first = rt.payments.record_payment(payment)
    if not first:
        log.info("payment already recorded", extra={**context, "reason": "redelivered"})
    else:  # the provider's id is what Telegram's own records of the payment show
        log.info("payment credited; provider charge %s", paid.provider_charge_id, extra=context)
    if stored.told:
        return
    language = rt.users.language_of(paid.user_id, paid.language_code)
    held = rt.payments.credits_of(paid.user_id).held
    text = texts.render(language, "paid", pictures=stored.credits, held=held)
    rt.bot.send_message(AnswerTo(paid.chat_id), text)
    rt.payments.mark_told(stored.charge_id)


class PaymentNotRecorded(RuntimeError):
    """A refunded_payment for a charge the ledger does not hold yet: raised so Pub/Sub brings
    it again, after the successful_payment it overtook (still being retried) is recorded."""


def record_telegram_refund(refunded: PaymentRefunded, rt: Services, *, last_try: bool = False) -> None:
    """A refunded_payment: the Stars of a payment went back. One the bot refunded itself
    (REFUNDED, or REFUNDING while its own step finishes it) changes nothing. One the ledger
    holds PAID was refunded by Telegram: the credits still held are removed (start_refund, as
    an operator's refund) and it is REFUNDED at once, since the Stars are gone. A crash between
    the two steps leaves it REFUNDING, which a redelivery or the sweep finishes (Telegram then
    answers that it is refunded already). A charge the ledger does not hold is tried again
    until the `last_try` (report_failure's), which leaves it to an operator."""
    context = fields(stage="payment", update_id=refunded.update_id, chat_id=refunded.chat_id)
    payment = rt.payments.get_payment(refunded.charge_id)
    if payment is None:
        if not last_try:
            raise PaymentNotRecorded(f"no payment {ledger.short_id(refunded.charge_id)} to refund yet")
        log.error(
            "refund of a payment the ledger does not hold", extra={**context, "reason": "unknown_charge"}
        )
        return
    if payment.state == PaymentState.PAID:
        payment = (
            rt.payments.start_refund(payment.charge_id, rt.now(), by=BY_TELEGRAM, whole=False) or payment
        )
    if payment.refund_by != BY_TELEGRAM or payment.state == PaymentState.PAID:
        log.info("refund confirmed by Telegram", extra={**context, "reason": "refund_echo"})
        return
    done = rt.payments.finish_refund(payment.charge_id, rt.now()) or payment
    log.warning(
        "stars refunded by Telegram, not the bot: %d of %d credits removed",
        done.credits_removed,
        done.credits,
        extra={**context, "reason": "telegram_refund"},
    )
    if not done.refund_told:
        _tell_refunded(done, rt)


def refund_command(command: Command, rt: Services) -> None:
    """/refund: an operator's `/refund <charge id>` refunds that payment; anyone's bare /refund
    lists their packs that may be refunded, each with its button."""
    if command.user_id in rt.settings.operator_ids and command.args:
        refund_as_operator(command, rt)
        return
    language = rt.users.language_of(command.user_id, command.language_code)
    held = rt.payments.credits_of(command.user_id).held
    now = rt.now()
    refundable = [
        payment
        for payment in rt.payments.payments_of(command.user_id)
        if payments.user_refund_refusal(payment, command.user_id, held, now) is None
    ]
    to, days = AnswerTo.of_event(command), checkout.window_days()
    if not refundable:
        rt.bot.send_message(to, texts.render(language, "refund_none", days=days))
        return
    menu = checkout.refund_buttons(refundable, language)
    rt.bot.send_message(to, texts.render(language, "refund_list", days=days), reply_markup=menu)


def refund_pressed(button: Button, rt: Services) -> None:
    """A /refund button: that payment refunded whole, if it still may be (checked again now)."""
    user_id = button.user_id
    language = rt.users.language_of(user_id, button.language_code)
    to = AnswerTo.of_event(button)
    found = rt.payments.payment_by_short_id(user_id, button.args[0])
    refusal = payments.user_refund_refusal(found, user_id, rt.payments.credits_of(user_id).held, rt.now())
    if found is not None and refusal == RefundRefusal.DONE and not found.refund_told:
        _tell_refunded(found, rt)  # the try that made it could not say so (Telegram down for now)
        return
    if found is None or refusal is not None:
        _tell_refusal(to, language, refusal or RefundRefusal.UNKNOWN, rt)
        return
    started = rt.payments.start_refund(found.charge_id, rt.now(), by="user", whole=True)
    if started is None or started.state == PaymentState.PAID:  # spent meanwhile: not whole any more
        _tell_refusal(to, language, RefundRefusal.USED, rt)
        return
    if started.state == PaymentState.REFUNDED:
        _tell_refusal(to, language, RefundRefusal.DONE, rt)
        return
    carry_refund(started, rt)


def _tell_refusal(to: AnswerTo, language: str, refusal: RefundRefusal, rt: Services) -> None:
    rt.bot.send_message(to, texts.render(language, f"refund_{refusal}", days=checkout.window_days()))


def refund_as_operator(command: Command, rt: Services) -> None:
    """`/refund <charge id>`: any payment, any time; the credits still held are removed."""
    language = rt.users.language_of(command.user_id, command.language_code)
    to = AnswerTo.of_event(command)
    charge_id = command.args.split()[0]
    if not is_charge_id(charge_id) or rt.payments.get_payment(charge_id) is None:
        rt.bot.send_message(to, texts.render(language, "refund_op_unknown"))
        return
    started = rt.payments.start_refund(charge_id, rt.now(), by=f"operator {command.user_id}", whole=False)
    if started is None:
        rt.bot.send_message(to, texts.render(language, "refund_op_unknown"))
        return
    log.warning(
        "refund asked by an operator",
        extra=fields(stage="payment", reason="operator_refund", chat_id=command.chat_id),
    )
    if started.state == PaymentState.REFUNDED:
        rt.bot.send_message(to, texts.render(language, "refund_done"))
        return
    carry_refund(started, rt, operator=(to, language))


def carry_refund(payment: Payment, rt: Services, operator: tuple[AnswerTo, str] | None = None) -> str:
    """A payment whose credits are out (REFUNDING) gets its Stars back from Telegram: "refunded"
    or "aborted" (Telegram refused for good: the credits are back). A transient error raises."""
    charge_id, user_id = payment.charge_id, payment.user_id
    context = fields(stage="payment", chat_id=user_id)
    try:
        rt.bot.refund_star_payment(user_id, charge_id)
    except TelegramError as error:
        if error.transient:
            log.warning(
                "refund to try again", extra={**context, "reason": "refund_retry", "error": str(error)}
            )
            raise
        if not error.already_refunded:
            log.error(
                "refund refused by Telegram",
                extra={**context, "reason": "refund_refused", "error": str(error)},
            )
            if rt.payments.abort_refund(charge_id, rt.now(), str(error)[:200]) is None:
                return "aborted"  # another attempt settled it first, and told
            _tell_user(payment, "refund_failed", rt)
            if operator is not None:
                to, language = operator
                rt.bot.send_message(to, texts.render(language, "refund_op_failed", error=error.description))
            return "aborted"
    done = rt.payments.finish_refund(charge_id, rt.now())
    if done is None:  # another attempt (a second press, the sweep) finished it first, and told
        log.info("refund finished by another attempt", extra=context)
        return "refunded"
    log.info("stars refunded, asked by %s", done.refund_by, extra=context)
    _tell_refunded(done, rt)
    if operator is not None:
        to, language = operator
        text = texts.render(
            language, "refund_op_made", stars=done.stars, user=str(user_id), credits=done.credits_removed
        )
        rt.bot.send_message(to, text)
    return "refunded"


def _tell_refunded(payment: Payment, rt: Services) -> None:
    """The buyer told the refund was made, once (`refund_told`): a redelivery of a try that
    could not say so says it."""
    _tell_user(payment, "refund_made", rt)
    rt.payments.mark_refund_told(payment.charge_id)


def _tell_user(payment: Payment, key: str, rt: Services) -> None:
    """The buyer hears of their refund in their private chat (the chat id of a user is theirs);
    a user who blocked the bot still gets the Stars."""
    language = rt.users.language_of(payment.user_id, None)
    held = rt.payments.credits_of(payment.user_id).held
    text = texts.render(language, key, stars=payment.stars, credits=payment.credits_removed, held=held)
    try:
        rt.bot.send_message(AnswerTo(payment.user_id), text)
    except TelegramError as error:
        if error.transient:
            raise
        log.info("refund not told", extra=fields(stage="payment", chat_id=payment.user_id, error=str(error)))


def refund_press_ran_out(button: Button, rt: Services) -> bool:
    """A refund button whose update ran out of attempts (report_failure): with its payment left
    REFUNDING, the credits are out and the sweep finishes the refund, so the user hears that,
    not "send it again". False for any other press, or a payment in another state."""
    if button.action != "refund":
        return False
    payment = rt.payments.payment_by_short_id(button.user_id, button.args[0])
    if payment is None or payment.state != PaymentState.REFUNDING:
        return False
    language = rt.users.language_of(button.user_id, button.language_code)
    text = texts.render(language, "refund_under_way", stars=payment.stars)
    rt.bot.send_message(AnswerTo.of_event(button), text)
    return True


def carry_on_refunds(rt: Services) -> dict[str, int]:
    """The sweep's part: refunds left REFUNDING (a crash, or Telegram down) carried on by the
    same step, once they have waited as long as a job may (so one in flight is left alone)."""
    counts = {"refunded": 0, "aborted": 0, "refund_later": 0}
    settled = rt.now() - timedelta(seconds=rt.settings.job_deadline_seconds)
    for payment in rt.payments.refunds_pending():
        started = _refund_started_at(payment)
        if started is not None and started > settled:
            continue
        try:
            counts[carry_refund(payment, rt)] += 1
        except Exception as error:  # one payment must not keep the sweep from the others
            log.warning(
                "refund not carried on",
                extra=fields(stage="payment", reason="refund_retry", error=repr(error)[:300]),
            )
            counts["refund_later"] += 1
    return counts


def _refund_started_at(payment: Payment) -> datetime | None:
    """When its latest step was logged (the ledger's `log` entries carry `at`)."""
    stamps = [entry.get("at") for entry in payment.log]
    times = [at for at in stamps if isinstance(at, datetime)]
    return max(times) if times else None


def tell_waiting_buyers(rt: Services) -> int:
    """The mode became paused: each user whose paid picture waits is told once that it waits and
    their credits are safe (the job is marked `pause_told`). How many were told."""
    told, sets_told = 0, set()
    for job in rt.jobs.jobs_in_states(WAITING_STATES):
        if job.paid_credits <= 0 or job.pause_told:
            continue
        if job.set_id not in sets_told:  # a set's pictures wait together: one message for them
            _tell_waiting(job, rt)
            told += 1
        if job.set_id:
            sets_told.add(job.set_id)
        rt.jobs.set_job_fields(job.job_id, pause_told=True)
    return told


def _tell_waiting(job: Job, rt: Services) -> None:
    try:
        rt.bot.send_message(AnswerTo.of_job(job), texts.render(job.language, "paused_paid_waits"))
    except TelegramError as error:  # told is best effort: the picture still comes
        log.info("pause not told", extra=fields(stage="payment", job_id=job.job_id, error=str(error)))
