"""terraform/payments.tf against the ledger's queries: each composite index is the one its query
needs (Firestore refuses the query in the cloud without it; the emulator needs none), and the
payments are kept (no TTL)."""

from __future__ import annotations

import re

import pytest

from tests.infra.hcl import ROOT, load

STORE = (ROOT / "functions" / "imagebot" / "edges" / "store.py").read_text()


@pytest.fixture(scope="module")
def tf():
    return load()


def query_fields(method: str) -> list[str]:
    start = STORE.index(f"def {method}")
    query = STORE[start : STORE.index("\n    def ", start)]  # to the method after it
    return re.findall(r'FieldFilter\("([\w.]+)"', query) + re.findall(r'order_by\("([\w.]+)"', query)


@pytest.mark.parametrize(
    ("index_name", "collection", "method"),
    [("payments_of_user", "payments", "payments_of"), ("jobs_owed_credits", "jobs", "jobs_owed_credits")],
)
def test_each_ledger_query_has_its_index(tf, index_name, collection, method):
    index = tf.resource("google_firestore_index", index_name)
    assert index["collection"] == collection
    assert [f["field_path"] for f in index["fields"]] == query_fields(method)


def test_payments_are_kept(tf):
    ttl = tf.resource("google_firestore_field", "ttl")
    assert "payments" not in ttl["for_each"] and "jobs" in ttl["for_each"]
