from datetime import UTC, datetime

from imagebot.core.ops import Mode, Ops, generation_mode, quota_in_mode
from imagebot.core.quota import QuotaPolicy


def test_economy_tightens_quotas_but_never_to_zero():
    assert quota_in_mode(QuotaPolicy(3, 20.0, 50), Mode.ECONOMY) == QuotaPolicy(1, 20.0, 25)
    assert quota_in_mode(QuotaPolicy(1, 20.0, 1), Mode.ECONOMY) == QuotaPolicy(1, 20.0, 1)
    assert quota_in_mode(QuotaPolicy(3, 20.0, 50), Mode.NORMAL) == QuotaPolicy(3, 20.0, 50)


def test_modes_order_by_severity_and_map_to_the_contract():
    assert Mode.NORMAL.severity < Mode.ECONOMY.severity < Mode.PAUSED.severity
    assert generation_mode(Mode.ECONOMY) == "economy"
    assert generation_mode(Mode.PAUSED) == generation_mode(Mode.NORMAL) == "normal"


def test_ops_document_round_trips_and_defaults_to_normal():
    ops = Ops(Mode.PAUSED, "budget 100%", "budget", "2026-11", datetime(2026, 11, 22, tzinfo=UTC))
    assert Ops.from_doc(ops.to_doc()) == ops
    assert Ops.from_doc(None).mode == Mode.NORMAL
