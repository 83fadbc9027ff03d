"""TrustOutsideAccounts on plain templates: a role trusts only the accounts the app's stacks deploy to."""

from __future__ import annotations

from typing import Any

from compliance.assembly import StackView
from compliance.preflight.base import Context, Verdict
from compliance.preflight.trust_outside_accounts import trust_outside_accounts
from compliance.references import TemplateIndex
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes

PIPELINE, STAGE, OUTSIDE = "123456789012", "210987654321", "999999999999"


def _verdict(principal: Any, *, accounts: tuple[str, str] = (PIPELINE, STAGE)) -> Verdict:
    """The verdict on a stage role trusted by `principal`, in an app of a pipeline stack and a stage stack."""
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]}
    role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}}
    index = TemplateIndex()
    for path, account, resources in (("Pipeline", accounts[0], {}), ("Pipeline/Dev/Data", accounts[1], {"Role": role})):
        parts = path.split("/")
        stack = StackView(
            path=path,
            stack_name="-".join(parts[-2:]),
            region="us-east-1",
            stage=parts[-2] if len(parts) > 1 else "",
            template={"Resources": resources},
            account=account,
        )
        index.stacks.append(stack)
    view = next(r for r in index.all_resources() if r.type == "AWS::IAM::Role")
    return trust_outside_accounts(view, Context(index=index, external_prerequisites=frozenset()))


def test_a_role_trusted_by_an_account_outside_the_app_fails() -> None:
    for principal in (f"arn:aws:iam::{OUTSIDE}:root", OUTSIDE, [f"arn:aws:iam::{PIPELINE}:root", OUTSIDE]):
        assert_fails(_verdict(principal), OUTSIDE, f"trusts account {OUTSIDE}", "none of the app's accounts")


def test_a_role_trusted_by_the_pipeline_account_or_its_own_passes() -> None:
    assert_passes(_verdict(f"arn:aws:iam::{PIPELINE}:root"))
    own = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}
    assert_passes(_verdict(own))


def test_without_known_accounts_the_rule_does_not_apply() -> None:
    assert_not_applicable(_verdict(OUTSIDE, accounts=("", "")))


def test_the_rule_is_silent_on_the_fixture_app(assembly_dir: Any) -> None:
    index = TemplateIndex.load(assembly_dir)
    roles = [r for r in index.all_resources() if r.type == "AWS::IAM::Role"]
    context = Context(index=index, external_prerequisites=frozenset())
    verdicts = [trust_outside_accounts(role, context) for role in roles]
    # The app's roles are trusted by services or by their own account (a reference): nothing from outside.
    assert roles
    assert [v.finding for v in verdicts if v.failed] == []
