"""tests/infra: terraform/, cloudbuild.yaml, deploy/ and workflows/, checked without a cloud."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.emulators import EmulatorHosts
from local.fake_telegram import FakeTelegramConfig, FakeTelegramServer
from local.fake_telegram_client import FakeTelegram
from tests.infra.budget_workflow import BOT_TOKEN, BudgetWorkflow, budget_workflow


@pytest.fixture(scope="session")
def ops_telegram_server() -> Iterator[FakeTelegramServer]:
    with FakeTelegramServer(FakeTelegramConfig(token=BOT_TOKEN)) as server:
        yield server


@pytest.fixture
def ops_telegram(ops_telegram_server: FakeTelegramServer) -> Iterator[FakeTelegram]:
    with FakeTelegram(ops_telegram_server.base_url) as client:
        client.reset()
        yield client


@pytest.fixture(scope="session")
def workflow_session(
    emulators: EmulatorHosts,
    ops_telegram_server: FakeTelegramServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BudgetWorkflow]:
    with budget_workflow(
        emulators, ops_telegram_server.base_url, tmp_path_factory.mktemp("workflow")
    ) as harness:
        yield harness


@pytest.fixture
def workflow(workflow_session: BudgetWorkflow, ops_telegram: FakeTelegram) -> BudgetWorkflow:
    workflow_session.reset()
    return workflow_session
