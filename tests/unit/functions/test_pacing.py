import pytest
from imagebot.core.pacing import Pacer, PacingBacklog, PacingPolicy, reserve


def test_reserve_gives_now_when_free_and_queues_behind_the_last_otherwise():
    assert reserve(None, 100.0, 1.0) == (100.0, 101.0)
    assert reserve(90.0, 100.0, 1.0) == (100.0, 101.0)  # the slot was free long ago
    assert reserve(103.0, 100.0, 1.0) == (103.0, 104.0)


def test_a_burst_tolerance_lets_a_few_go_at_once_then_the_interval_holds():
    next_free, slots = None, []
    for _ in range(5):
        slot, next_free = reserve(next_free, 100.0, 1.0, tolerance=2.0)
        slots.append(slot)
    assert slots == [100.0, 100.0, 100.0, 101.0, 102.0]


class Slots:
    """An in-memory stand-in for the Firestore slot documents, to test the Pacer's arithmetic."""

    def __init__(self, now: float):
        self.now = now
        self.next_free: dict[str, float] = {}

    def __call__(self, key, interval, tolerance, horizon=float("inf")):
        slot, taken = reserve(self.next_free.get(key), self.now, interval, tolerance, horizon)
        if taken is not None:
            self.next_free[key] = taken
        return slot


ONE_SHARD = PacingPolicy(shards=1, per_second=10.0)


def pacer_at(clock_value, slots, policy=ONE_SHARD):
    waits = []
    return Pacer(slots, policy, clock=lambda: clock_value, sleep=waits.append), waits


def test_after_a_burst_of_three_new_messages_to_one_private_chat_are_a_second_apart():
    slots = Slots(0.0)
    pacer, waits = pacer_at(0.0, slots)
    # The first three are spaced only by the bot-wide pace (10 a second in this policy).
    assert [pacer("sendMessage", 7) for _ in range(5)] == [0.0, 0.1, 0.2, 1.0, 2.0]
    assert waits == [0.1, 0.2, 1.0, 2.0]


def test_groups_get_three_seconds_and_edits_only_the_bot_wide_pace():
    slots = Slots(0.0)
    pacer, _ = pacer_at(0.0, slots)
    assert [pacer("sendPhoto", -100) for _ in range(4)] == pytest.approx(
        [0.0, 3.1, 6.2, 9.3]
    )  # no burst in groups
    assert pacer("editMessageText", -100) == 0.4  # four bot-wide slots of 0.1 s already taken
    assert pacer("answerCallbackQuery", -100) == 0.0 and pacer("sendChatAction", 7) == 0.0


def test_reserve_beyond_the_horizon_takes_nothing():
    assert reserve(130.0, 100.0, 3.0, horizon=20.0) == (130.0, None)
    assert reserve(115.0, 100.0, 3.0, horizon=20.0) == (115.0, 118.0)


def test_a_backlog_beyond_max_wait_is_refused_at_once_and_leaves_its_slot_free():
    """Sending after a capped wait would go early and break the very limit waited for: the
    send is refused instead (the client makes it a 429), and the slot stays for a later try."""
    slots = Slots(0.0)
    pacer, waits = pacer_at(0.0, slots, PacingPolicy(shards=1, per_second=25.0, max_wait=0.5))
    sent = [pacer("sendMessage", chat) for chat in range(1, 14)]
    assert sent[:3] == [0.0, 0.04, 0.08] and max(sent) == pytest.approx(0.48)
    with pytest.raises(PacingBacklog) as refused:
        pacer("sendMessage", 99)
    assert refused.value.seconds == pytest.approx(0.52)
    assert slots.next_free["bot-0"] == pytest.approx(0.52)  # not moved by the refused send
    assert waits == sent[1:]


def test_a_failing_slot_store_never_holds_a_message_back():
    def broken(key, interval, tolerance):
        raise TimeoutError("firestore unavailable")

    waits = []
    pacer = Pacer(broken, PacingPolicy(), clock=lambda: 5.0, sleep=waits.append)
    assert pacer("sendPhoto", 7) == 0.0 and waits == []
