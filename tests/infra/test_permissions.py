"""terraform/permissions.yaml (what each account's code calls, and the role each call needs)
held against what terraform/ grants each account, both ways: no missing role, no unneeded role.

Every IAM grant in terraform/ is read here, by resource; one the reader does not know fails the
test, so a new grant cannot slip past the check.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.infra.hcl import ROOT, TERRAFORM, Terraform, load

Grant = tuple[str, str, str]  # (role, on, condition title or "")
IAM_KINDS = re.compile(r"_iam_(member|binding|policy)$")
SA_MEMBER = re.compile(r'^\$\{local\.sa_member\["(\w+)"\]\}$')
# Members that are not our accounts: Google's service agents, the log sink's writer, the public.
NOT_OURS = re.compile(
    r"agent_member|pubsub_agent|google_storage_project_service_account|writer_identity|allUsers"
)


def on_of(reference: str) -> str:
    """`${google_storage_bucket.images.name}` → bucket/images, and so on."""
    patterns = {
        r"google_storage_bucket\.(\w+)\.": "bucket/{}",
        r"google_cloud_run_v2_service\.gpu\.": "run/gpu",
        r"google_artifact_registry_repository\.(\w+)\.": "repository/{}",
        r"google_vertex_ai_endpoint\.gpu": "endpoint/gpu",
    }
    for pattern, shape in patterns.items():
        if m := re.search(pattern, reference):
            return shape.format(*m.groups())
    raise AssertionError(f"unknown IAM target {reference!r}")


def role_of(tf: Terraform, role: str) -> str:
    """A predefined role as it is; a custom role by its role_id."""
    if m := re.search(r'google_project_iam_custom_role\.vertex\["(\w+)"\]', role):
        return str(tf.locals["vertex_roles"][m.group(1)]["id"])
    return role


def condition_of(body: dict[str, Any]) -> str:
    conditions = body.get("condition") or []
    return str(conditions[0]["title"]) if conditions else ""


def toset(expression: str) -> list[str]:
    m = re.fullmatch(r"\$\{toset\(\[(.*)\]\)\}", expression)
    assert m, f"not a literal toset: {expression}"
    return re.findall(r'"(\w+)"', m.group(1))


def granted(tf: Terraform) -> dict[str, set[Grant]]:
    grants: dict[str, set[Grant]] = {}

    def add(account: str, role: str, on: str, condition: str = "") -> None:
        assert account in tf.locals["accounts"], f"a grant to {account!r}, which is not an account"
        grants.setdefault(account, set()).add((role_of(tf, role), on, condition))

    for kind, named in tf.resources.items():
        if not IAM_KINDS.search(kind):
            continue
        for name, body in named.items():
            address, member = f"{kind}.{name}", str(body.get("member", ""))
            assert not kind.endswith(("_binding", "_policy")), f"{address}: authoritative IAM; use _member"
            if NOT_OURS.search(member):
                continue
            if address == "google_project_iam_member.roles":
                for account, role in tf.locals["project_roles"].values():
                    add(account, role, "project")
            elif address == "google_secret_manager_secret_iam_member.readers":
                for secret, accounts in tf.locals["secret_readers"].items():
                    for account in accounts:
                        add(account, body["role"], f"secret/{secret}")
            elif address == "google_pubsub_topic_iam_member.publishers":
                for topic, route in tf.locals["routes"].items():
                    for publisher in route["publishers"]:
                        if m := SA_MEMBER.match(publisher):
                            add(m.group(1), body["role"], f"topic/{topic}")
            elif address == "google_cloud_run_v2_service_iam_member.function_invokers":
                invokers = tf.locals["function_invokers"]
                for entry, account in re.findall(
                    r'google_cloudfunctions2_function\.(\w+)\.name, local\.sa_member\["(\w+)"\]', invokers
                ):
                    add(account, body["role"], f"run/{entry}")
                pushed = re.search(
                    r'google_cloudfunctions2_function\.pushed : .*local\.sa_member\["(\w+)"\]', invokers
                )
                assert pushed, invokers
                for entry in tf.locals["pushed_functions"]:
                    add(pushed.group(1), body["role"], f"run/{entry}")
            elif address == "google_vertex_ai_endpoint_iam_member.gpu":
                roles = dict(re.findall(r'(\w+) = "(\w+)"', tf.locals["vertex_endpoint_grants"]))
                assert roles, tf.locals["vertex_endpoint_grants"]
                for account, role in roles.items():
                    add(account, tf.locals["vertex_roles"][role]["id"], "endpoint/gpu")
            elif kind == "google_service_account_iam_member":
                accounts = (
                    toset(body["for_each"])
                    if "for_each" in body
                    else [re.findall(r'sa\["(\w+)"\]', body["service_account_id"])[0]]
                )
                (account,) = SA_MEMBER.match(member).groups()  # type: ignore[union-attr]
                for target in accounts:
                    add(account, body["role"], f"service_account/{target}")
            elif "for_each" in body and member == "${local.sa_member[each.value]}":
                target = (
                    "project"
                    if kind == "google_project_iam_member"
                    else on_of(str(body.get("name") or body.get("bucket") or body.get("repository")))
                )
                for account in toset(body["for_each"]):
                    add(account, body["role"], target, condition_of(body))
            elif m := SA_MEMBER.match(member):
                target = (
                    "project"
                    if kind == "google_project_iam_member"
                    else on_of(
                        str(
                            body.get("name")
                            or body.get("bucket")
                            or body.get("repository")
                            or body.get("endpoint")
                        )
                    )
                )
                add(m.group(1), body["role"], target, condition_of(body))
            else:
                raise AssertionError(f"{address}: a grant this test cannot read; teach granted() its shape")
    return grants


def needed() -> dict[str, set[Grant]]:
    declared = yaml.safe_load((TERRAFORM / "permissions.yaml").read_text())
    needs: dict[str, set[Grant]] = {}
    for account, calls in declared.items():
        for call in calls:
            targets = call["scope"] if isinstance(call["scope"], list) else [call["scope"]]
            for on in targets:
                needs.setdefault(account, set()).add((call["role"], on, call.get("condition", "")))
    return needs


@pytest.fixture(scope="module")
def tf() -> Terraform:
    return load()


def test_every_call_has_its_grant(tf):
    grants = granted(tf)
    missing = {account: sorted(calls - grants.get(account, set())) for account, calls in needed().items()}
    assert not {a: m for a, m in missing.items() if m}, f"roles the code needs, not granted: {missing}"


def test_no_account_has_a_role_none_of_its_calls_needs(tf):
    needs = needed()
    unneeded = {account: sorted(roles - needs.get(account, set())) for account, roles in granted(tf).items()}
    assert not {a: u for a, u in unneeded.items() if u}, f"granted, but no call needs it: {unneeded}"


def test_every_account_is_listed_and_every_call_is_in_its_code(tf):
    declared = yaml.safe_load((TERRAFORM / "permissions.yaml").read_text())
    assert set(declared) == set(tf.locals["accounts"])
    for account, calls in declared.items():
        for call in calls:
            path, evidence = call["code"]
            assert evidence in (ROOT / path).read_text(), (
                f"{account}: {call['call']}: {evidence!r} not in {path}"
            )


def test_the_vertex_custom_roles_hold_only_vertex_calls(tf):
    for key, role in tf.locals["vertex_roles"].items():
        assert role["permissions"] and all(p.startswith("aiplatform.") for p in role["permissions"]), key
        assert not any(p.endswith((".create", ".delete", ".setIamPolicy")) for p in role["permissions"]), key
    # roles/aiplatform.user can create endpoints and deploy models (GPU spend): nobody has it.
    roles = {str(grant[0]) for grants in granted(tf).values() for grant in grants}
    assert not {"roles/aiplatform.user", "roles/aiplatform.admin"} & roles


def test_the_vertex_endpoint_skip_names_every_account_that_may_predict(tf):
    # checkov's CKV2_GCP_33 (a public endpoint) is skipped on the ground of who may predict.
    predictor = tf.locals["vertex_roles"]["predictor"]["id"]
    accounts = {account for account, grants in granted(tf).items() if any(g[0] == predictor for g in grants)}
    assert accounts == {"dispatch", "validate"}
    skip = next(line for line in (TERRAFORM / "vertex.tf").read_text().splitlines() if "CKV2_GCP_33" in line)
    assert "dispatch_vertex" in skip and "validate_prompt" in skip and "only two accounts" in skip
