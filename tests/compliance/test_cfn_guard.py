"""The port of the Control Tower plugin's cfn-guard run (compliance.cfn_guard) against the plugin itself.

Three comparisons, each on the same input: the stock plugin through jsii and the port over the same
templates and rules (cfn-guard's real output, of every shape its results take); the plugin's own
JavaScript (lib/plugin.js and lib/check.js, run by Node.js over a stand-in cfn-guard that prints a given
output) and the port over outputs made to reach each corner of that JavaScript; and, as a canary, the
installed plugin against the release the port was written from.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

from compliance import cfn_guard, control_tower
from compliance.control_tower_validator import ControlTowerValidator, TemplatesContext, _disabled, _Template
from config.control_tower_controls import UnsupportedPlatformError, bundle, cfn_guard_binary

# Resources that fail Control Tower's controls in every way cfn-guard reports it: a clause on a property
# (Clause: Unary, Binary), a named rule called by another (Rule), a block over a selection (Block), a choice
# (Disjunctions); a comparison with a value (Resolved, InResolved) and with a missing property (UnResolved);
# several checks failing on one resource, several resources failing one rule, several templates in one run.
_FAILING = {
    "Open": {"Type": "AWS::S3::Bucket", "Properties": {}},
    "AesBucket": {
        "Type": "AWS::S3::Bucket",
        "Properties": {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": False},
        },
    },
    "Imported": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": {"Fn::ImportValue": "Keys:KeyArn"}}},
    "Plain": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}},
    "Wild": {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": "p",
            "PolicyDocument": {
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                    {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
                ]
            },
        },
    },
    "Role": {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]},
            "Policies": [
                {
                    "PolicyName": "inline",
                    "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": ["ec2:*"], "Resource": "*"}]},
                }
            ],
        },
    },
    "Function": {
        "Type": "AWS::Lambda::Function",
        "Properties": {"Code": {"ZipFile": "x"}, "Role": {"Fn::GetAtt": ["Role", "Arn"]}, "Runtime": "python3.12"},
    },
    "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": False}},
    "Asg": {
        "Type": "AWS::AutoScaling::AutoScalingGroup",
        "Properties": {"MinSize": "1", "MaxSize": "1", "AvailabilityZones": ["us-east-1a"]},
    },
    "Db": {
        "Type": "AWS::RDS::DBInstance",
        "Properties": {
            "Engine": "postgres",
            "StorageEncrypted": False,
            "PubliclyAccessible": True,
            "EnableCloudwatchLogsExports": ["postgresql", "upgrade"],
        },
    },
    "Sg": {
        "Type": "AWS::EC2::SecurityGroup",
        "Properties": {
            "GroupDescription": "g",
            "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}],
        },
    },
    "Stream": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}},
}
_SECOND = {
    "Versioned": {"Type": "AWS::S3::Bucket", "Properties": {"VersioningConfiguration": {"Status": "Suspended"}}},
    "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}},
    "Key": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": False}},
}
_RESULT_SHAPES = {"Clause", "Unary", "Binary", "Rule", "Block", "Disjunctions", "Resolved", "InResolved", "UnResolved"}


def _write(directory: Path, templates: dict[str, dict[str, Any]]) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, resources in templates.items():
        path = directory / f"{name}.template.json"
        path.write_text(json.dumps({"Resources": resources}, indent=1), encoding="utf-8")
        paths.append(str(path))
    return paths


def _relevant(paths: Sequence[str]) -> list[control_tower.Control]:
    types = frozenset().union(*(_Template.read(p).types for p in paths))
    return [c for c in control_tower.controls() if c.applies_to(types)]


def _stock(paths: Sequence[str], disabled: Sequence[str]) -> tuple[bool, list[Any]]:
    plugin = CfnGuardValidator(
        control_tower_rules_enabled=True, disabled_rules=list(disabled), max_buffer=control_tower.MAX_BUFFER_BYTES
    )
    report = plugin.validate(TemplatesContext(list(paths)))
    return report.success, [
        (
            v.rule_name,
            v.description,
            v.fix,
            v.rule_metadata,
            [(r.template_path, r.resource_logical_id, list(r.locations)) for r in v.violating_resources],
        )
        for v in report.violations
    ]


def _ported(report: cfn_guard.Report) -> tuple[bool, list[Any]]:
    return report.success, [
        (
            v.rule_name,
            v.description,
            v.fix,
            v.rule_metadata,
            [(r.template_path, r.logical_id, list(r.locations)) for r in v.resources],
        )
        for v in report.violations
    ]


# --- the canary: the installed plugin is the one the port follows --------------------------------


def test_the_installed_plugin_is_the_release_the_port_follows() -> None:
    """Canary: a plugin upgrade (its code or its cfn-guard) fails here, naming the versions, until the port is
    compared with the new lib/plugin.js and lib/check.js and the pins are updated."""
    installed = cfn_guard.installed_versions()
    assert installed == (cfn_guard.PORTED_PLUGIN_VERSION, cfn_guard.PORTED_GUARD_VERSION), (
        f"cdklabs.cdk-validator-cfnguard {installed[0]} (cfn-guard {installed[1]}) is installed; compliance/"
        f"cfn_guard.py follows {cfn_guard.PORTED_PLUGIN_VERSION} (cfn-guard {cfn_guard.PORTED_GUARD_VERSION})"
    )
    cfn_guard.check_port()


@pytest.mark.parametrize(
    ("pin", "value", "named"),
    [
        ("PORTED_FROM", {**cfn_guard.PORTED_FROM, "lib/check.js": "0" * 64}, "lib/check.js changed"),
        ("PORTED_GUARD_VERSION", "3.0.0", "cfn-guard 3.1.1 changed"),
    ],
)
def test_another_release_of_the_plugin_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, pin: str, value: Any, named: str
) -> None:
    monkeypatch.setattr(cfn_guard, pin, value)
    with pytest.raises(cfn_guard.UnportedReleaseError) as refused:
        cfn_guard.check_port()
    assert "cdklabs.cdk-validator-cfnguard 0.0.62 (cfn-guard 3.1.1)" in str(refused.value)
    assert named in str(refused.value)
    with pytest.raises(cfn_guard.UnportedReleaseError):
        ControlTowerValidator()


def test_the_fixture_reaches_every_shape_of_cfn_guards_results(tmp_path: Path) -> None:
    """Canary for cfn-guard's output: the templates the port is compared on give each shape of result the
    plugin's reviver reshapes. A cfn-guard that reports differently fails here, naming its version."""
    paths = _write(tmp_path, {"Failing": _FAILING, "Second": _SECOND})
    arguments = cfn_guard.command(paths, _disabled(_relevant(paths)))
    output = subprocess.run(arguments, capture_output=True, check=False)
    assert output.returncode == 19, output.stderr
    keys: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            keys.update(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk([result["not_compliant"] for result in json.loads(output.stdout)])
    missing = _RESULT_SHAPES - keys
    assert not missing, f"cfn-guard {cfn_guard.installed_versions()[1]} no longer reports {sorted(missing)}"
    # The run gives cfn-guard whole folders of rules where none is disabled (getRules), and files elsewhere.
    rules = [arguments[n + 1] for n, flag in enumerate(arguments) if flag == "--rules"]
    assert any(Path(r).is_dir() for r in rules), rules
    assert any(r.endswith(".guard") for r in rules), rules


# --- the port and the stock plugin on the same run --------------------------------------------------


@pytest.mark.parametrize("selection", ["relevant", "one", "some"])
def test_the_port_reports_what_the_stock_plugin_reports(tmp_path: Path, selection: str) -> None:
    """The same violations in the same order, field for field: the relevant controls of two templates (some
    folders of rules whole), one control, and a few with several rules failing the same resource."""
    paths = _write(tmp_path, {"Failing": _FAILING, "Second": _SECOND})
    relevant = _relevant(paths)
    chosen = {
        "relevant": relevant,
        "one": [control_tower.by_id()["CT.S3.PR.1"]],
        "some": [c for c in relevant if c.control_id.startswith(("CT.S3.", "CT.IAM.", "CT.CLOUDWATCH."))],
    }[selection]
    expected = _stock(paths, _disabled(chosen))
    assert expected[0] is False
    assert expected[1], "the fixture fails the chosen controls"
    assert _ported(cfn_guard.run(paths, _disabled(chosen))) == expected
    if selection == "relevant":
        violations = expected[1]
        assert {v[0] for v in violations} >= {"s3_bucket_default_encryption_kms_check", "lambda_inside_vpc_check"}
        assert any(len(v[4]) > 1 for v in violations), "a rule that several resources fail"
        assert any(len(r[2]) > 1 for v in violations for r in v[4]), "a resource that several checks fail"
        assert {Path(r[0]).name for v in violations for r in v[4]} == {Path(p).name for p in paths}


def test_a_template_that_passes_is_a_success_with_nothing_to_report(tmp_path: Path) -> None:
    paths = _write(tmp_path, {"Quiet": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}}})
    report = cfn_guard.run(paths, _disabled([control_tower.by_id()["CT.CLOUDWATCH.PR.3"]]))
    assert report == cfn_guard.Report(success=True, violations=())
    assert _ported(report) == _stock(paths, _disabled([control_tower.by_id()["CT.CLOUDWATCH.PR.3"]]))


@pytest.mark.parametrize(
    ("resources", "control", "stock_error", "port_error"),
    [
        # A property path that leads outside the resource (a variable's value): a violation without a logical id.
        (
            {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "postgres"}}},
            "CT.RDS.PR.14",
            "resourceLogicalId",
            "report as a string undefined",
        ),
        # A log group's key given as a parameter: a check without a traversed path.
        (
            {"Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": {"Ref": "Key"}}}},
            "CT.CLOUDWATCH.PR.3",
            "Cannot read properties of undefined \\(reading 'to'\\)",
            "read 'to' of undefined",
        ),
    ],
)
def test_where_the_stock_plugin_fails_the_port_fails(
    tmp_path: Path, resources: dict[str, Any], control: str, stock_error: str, port_error: str
) -> None:
    path = tmp_path / "Odd.template.json"
    path.write_text(json.dumps({"Parameters": {"Key": {"Type": "String"}}, "Resources": resources}), encoding="utf-8")
    disabled = _disabled([control_tower.by_id()[control]])
    with pytest.raises(Exception, match=stock_error):
        _stock([str(path)], disabled)
    with pytest.raises(cfn_guard.GuardOutputError, match=port_error):
        cfn_guard.run([str(path)], disabled)


def test_a_failed_cfn_guard_run_fails_loudly(tmp_path: Path) -> None:
    """exec: any exit status but 0, 5 and 19 is a failure, never an empty result."""
    broken = tmp_path / "Broken.template.json"
    broken.write_text('{"Resources": ', encoding="utf-8")
    disabled = _disabled([control_tower.by_id()["CT.S3.PR.1"]])
    with pytest.raises(Exception, match="Command exited with status 255"):
        _stock([str(broken)], disabled)
    with pytest.raises(cfn_guard.GuardRunError, match=r"status 255 over .*Broken\.template\.json.*Parser Error"):
        cfn_guard.run([str(broken)], disabled)


def test_the_grouped_runs_report_in_the_same_order_however_many_go_at_once(tmp_path: Path) -> None:
    paths = _write(tmp_path, {"Failing": _FAILING, "Second": _SECOND})
    reports = [
        ControlTowerValidator(workers=workers, run_cost_rule_bytes=0).validate(TemplatesContext(paths))
        for workers in (1, 4)
    ]
    one, four = (
        [
            (v.rule_name, v.fix, [(r.template_path, r.resource_logical_id) for r in v.violating_resources])
            for v in r.violations
        ]
        for r in reports
    )
    assert one == four
    assert len(one) > 20
    assert all(v.severity == "error" for r in reports for v in r.violations)


# --- the plugin's own JavaScript over outputs made for it ---------------------------------------------

# Each plugin report the stand-in runs is printed as JSON: what JSON.stringify keeps of it (undefined is left out).
_NODE_SCRIPT = r"""
const fs = require('fs');
const { CfnGuardValidator } = require(process.argv[2] + '/lib/plugin.js');
const cases = JSON.parse(fs.readFileSync(process.argv[3], 'utf-8'));
const results = cases.map((output) => {
  fs.writeFileSync(process.env.GUARD_OUTPUT, output);
  const plugin = new CfnGuardValidator({ controlTowerRulesEnabled: false });
  plugin.guard = process.argv[4];
  try {
    return { report: plugin.validate({ templatePaths: ['t.json'] }) };
  } catch (e) {
    return { error: String(e) };
  }
});
process.stdout.write(JSON.stringify(results));
"""


def _rule(name: str, checks: list[Any], custom: Any = None) -> dict[str, Any]:
    return {"Rule": {"name": name, "messages": {"custom_message": custom, "error_message": None}, "checks": checks}}


def _clause(path: str, custom: Any = None, error: Any = "failed", **extra: Any) -> dict[str, Any]:
    return {
        "Clause": {
            "Unary": {
                "context": "c",
                "messages": {"custom_message": custom, "error_message": error},
                "check": {"UnResolved": {"value": {"traversed_to": {"path": path, "value": {}}, **extra}}},
            }
        }
    }


def _results(*not_compliant: Any, name: str = "t.json") -> str:
    return json.dumps([{"name": name, "metadata": {}, "status": "FAIL", "not_compliant": list(not_compliant)}])


def _with_number(literal: str) -> str:
    """A failed rule whose one check holds, next to its path, a number as cfn-guard writes it."""
    check = '{"traversed": {"to": {"path": "/Resources/A/p"}}, "n": ' + literal + "}"
    return _results(_rule("r", [])).replace('"checks": []', f'"checks": [{check}]')


_MESSAGE = "\n  [CT.X.PR.1]: Require a thing\n  [FIX]: Do the thing\n  "
_CASES = {
    "nothing written": "",
    "only whitespace": " \n\t",
    "no results": "[]",
    "not_compliant as an empty object": json.dumps([{"name": "t.json", "not_compliant": {}}]),
    "not_compliant as an object": json.dumps([{"name": "t.json", "not_compliant": {"a": _rule("r", [])}}]),
    "a result that is not an object": json.dumps([None]),
    "an object, not a list": json.dumps({"name": "t.json"}),
    "NaN": "[NaN]",
    "a nested rule's message over its clauses": _results(
        _rule("r", [_rule("inner", [_clause("/Resources/A/Properties/X"), _clause("/Resources/B/P")], _MESSAGE)])
    ),
    "two fixes from two nested rules": _results(
        _rule(
            "r",
            [
                _rule("one", [_clause("/Resources/A/Properties/X")], "[FIX]: first"),
                _rule("two", [_clause("/Resources/A/Properties/Y")], "[FIX]: second"),
            ],
        )
    ),
    "messages null, the error message as description": _results(
        _rule(
            "r",
            [{"Clause": {"Unary": {"messages": None, "check": {"Resolved": {"value": {"path": "/Resources/A/p"}}}}}}],
        )
    ),
    "an empty custom message is the fix": _results(_rule("r", [_clause("/Resources/A/P", custom="", error="e")])),
    "a custom message that is not a string": _results(_rule("r", [_clause("/Resources/A/P", custom=7)])),
    "array indices before other keys": _results(
        _rule("r", [{"b": {"traversed": {"to": {"path": "/Resources/B/p"}}}, "1": {}, "0": _clause("/Resources/Z/q")}])
    ),
    "keys compared lower-cased": _results(
        _rule("r", [{"a": {"traversed": {"to": {"path": "/Resources/A/p"}}}, "b": {"Traversed": 1}}])
    ),
    "checks nested in arrays": _results(_rule("r", [[_clause("/Resources/A/p")], [[_clause("/Resources/B/p")]]])),
    "a path without a resource": _results(_rule("r", [_clause("/Resources")])),
    "a null among a check's values": _results(_rule("r", [{"x": None, "y": _rule("n", [_clause("/Resources/A/p")])}])),
    "a property named hasOwnProperty": _results(_rule("r", [{"y": {"hasOwnProperty": 1}}])),
    # The plugin's JSON.stringify writes Infinity as null, and a null among a check's values throws; a number does not.
    "a number too large for a double": _with_number("1e400"),
    "a number within range": _with_number("1e300"),
    "JavaScript's whitespace, not Python's": _results(
        _rule("r", [_clause("/Resources/A/p", custom="\ufeff[FIX]: a\u3000\n\x1c[CT.X.PR.2]: b\x1c")])
    ),
    "traversed_to with from": _results(
        _rule("r", [{"Block": {"unresolved": {"traversed_to": {"path": "/Resources/A/p", "from": {"path": "/x"}}}}}])
    ),
    "InResolved with a list to compare with": _results(
        _rule(
            "r", [{"Clause": {"Binary": {"check": {"InResolved": {"from": {"path": "/Resources/A/p"}, "to": [{}]}}}}}]
        )
    ),
    "Resolved without from or value": _results(_rule("r", [{"Clause": {"Binary": {"check": {"Resolved": {}}}}}])),
    "two results, one compliant": json.dumps(
        [
            {"name": "a.json", "not_compliant": []},
            {"name": "b.json", "not_compliant": [_rule("r", [_clause("/Resources/A/p", custom=_MESSAGE)])]},
        ]
    ),
}


def _plugin_reads(outputs: Sequence[str], tmp_path: Path) -> list[dict[str, Any]]:
    """What the plugin's own lib/plugin.js reports for each cfn-guard output, run by Node.js over a stand-in."""
    package = tmp_path / "package"
    for name in ("lib/plugin.js", "lib/check.js", "lib/utils.js", "package.json"):
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_bytes(bundle()[name])
    output_file = tmp_path / "output.json"
    stand_in = tmp_path / "cfn-guard"
    stand_in.write_text(f'#!/bin/sh\ncat "{output_file}"\nexit 19\n', encoding="utf-8")
    stand_in.chmod(0o700)
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps(list(outputs)), encoding="utf-8")
    script = tmp_path / "read.js"
    script.write_text(_NODE_SCRIPT, encoding="utf-8")
    node = Path(sys.executable).parent / "node"
    result = subprocess.run(
        [str(node), str(script), str(package), str(cases), str(stand_in)],
        capture_output=True,
        text=True,
        env={**os.environ, "GUARD_OUTPUT": str(output_file)},
        check=True,
    )
    reports: list[dict[str, Any]] = json.loads(result.stdout)
    return reports


def _as_plugin_report(report: cfn_guard.Report) -> dict[str, Any]:
    return {
        "success": report.success,
        "violations": [
            {
                "description": v.description,
                "fix": v.fix,
                "ruleMetadata": v.rule_metadata,
                "ruleName": v.rule_name,
                "violatingResources": [
                    {"locations": list(r.locations), "resourceLogicalId": r.logical_id, "templatePath": r.template_path}
                    for r in v.resources
                ],
            }
            for v in report.violations
        ],
    }


def _jsii_accepts(report: dict[str, Any]) -> bool:
    """Whether the CDK's PolicyViolationBeta1 takes every violation: strings where it wants strings."""
    strings = [
        *(v.get(field) for v in report["violations"] for field in ("ruleName", "description", "fix")),
        *(
            r.get(field)
            for v in report["violations"]
            for r in v["violatingResources"]
            for field in ("resourceLogicalId", "templatePath")
        ),
    ]
    return all(isinstance(s, str) for s in strings)


def test_the_port_reads_any_output_as_the_plugins_javascript_does(tmp_path: Path) -> None:
    """Where the plugin reports, the port reports the same; where it throws, or reports what the CDK then
    refuses, the port raises. Includes the real output of the fixture templates."""
    paths = _write(tmp_path / "templates", {"Failing": _FAILING, "Second": _SECOND})
    real = subprocess.run(cfn_guard.command(paths, _disabled(_relevant(paths))), capture_output=True, check=False)
    outputs = {**_CASES, "cfn-guard over the fixture": real.stdout.decode("utf-8")}
    plugin = dict(zip(outputs, _plugin_reads(list(outputs.values()), tmp_path), strict=True))
    compared = []
    for case, output in outputs.items():
        expected = plugin[case]
        if "report" in expected and _jsii_accepts(expected["report"]):
            assert _as_plugin_report(cfn_guard.read(output)) == expected["report"], case
            compared.append(case)
        else:
            with pytest.raises(cfn_guard.GuardOutputError):
                cfn_guard.read(output)
    # The cases reach both sides: reports compared, and failures the port shares.
    assert {"cfn-guard over the fixture", "array indices before other keys", "two fixes from two nested rules"} <= set(
        compared
    )
    assert {"a number within range", "JavaScript's whitespace, not Python's"} <= set(compared)
    assert {"nothing written", "a path without a resource", "a number too large for a double"}.isdisjoint(compared)


# --- the run's command line: the binary and the rules the plugin picks ---------------------------------


@pytest.mark.parametrize(
    ("system", "machine", "binary"),
    [
        ("linux", "x86_64", "bin/ubuntu/x86_64/cfn-guard"),
        ("linux", "aarch64", "bin/ubuntu/aarch64/cfn-guard"),
        ("darwin", "arm64", "bin/macos/aarch64/cfn-guard"),
        ("darwin", "x86_64", "bin/macos/x86_64/cfn-guard"),
        ("win32", "AMD64", None),
        ("linux", "riscv64", None),
    ],
)
def test_the_binary_is_the_one_the_plugin_runs_on_the_machine(
    monkeypatch: pytest.MonkeyPatch, system: str, machine: str, binary: str | None
) -> None:
    monkeypatch.setattr(sys, "platform", system)
    monkeypatch.setattr(platform, "machine", lambda: machine)
    if binary is None:
        with pytest.raises(
            UnsupportedPlatformError, match=f"Linux and macOS on x86_64 and aarch64 only; this is {system}"
        ):
            cfn_guard_binary()
        with pytest.raises(UnsupportedPlatformError):
            ControlTowerValidator()
    else:
        assert cfn_guard_binary() == binary


def test_this_machines_binary_is_in_the_bundle() -> None:
    assert cfn_guard_binary() in bundle(), platform.machine()


def test_rules_are_given_as_the_plugins_get_rules_gives_them(tmp_path: Path) -> None:
    """A folder whole when it yields as many rules as it has entries, else what its entries yield; names sorted
    by byte. As in the plugin, a folder also goes whole where its entries' counts happen to balance."""
    files = ("s3/ct-s3-pr-1.guard", "s3/ct-s3-pr-2.guard", "s3/ct-s3-pr-3.guard", "sqs/ct-sqs-pr-1.guard", "Z/z.guard")
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("", encoding="utf-8")
    rules = cfn_guard._rules  # the port of the plugin's getRules
    s3 = tmp_path / "s3"
    assert rules(tmp_path, frozenset()) == [tmp_path]
    assert rules(tmp_path, frozenset({"ct-s3-pr-2"})) == [
        tmp_path / "Z",
        s3 / "ct-s3-pr-1.guard",
        s3 / "ct-s3-pr-3.guard",
        tmp_path / "sqs",
    ]
    assert rules(tmp_path, frozenset({"ct-sqs-pr-1", "z"})) == [s3]
    # s3 yields two files, sqs none, Z itself: three rules for three entries, so the folder goes whole, with
    # the disabled files in it; the plugin does the same (the runs never disable a file of a folder this way).
    assert rules(tmp_path, frozenset({"ct-s3-pr-2", "ct-sqs-pr-1"})) == [tmp_path]
