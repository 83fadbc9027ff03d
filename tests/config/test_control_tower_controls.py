"""The reader of the Control Tower plugin's metadata files, on files made here (the bundle's: test_control_tower)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.control_tower_controls import MetadataLayoutError, read_metadata


def _file(**changes: Any) -> str:
    data: dict[str, Any] = {
        "Id": "CT.S3.PR.1",
        "DisplayName": " Require an Amazon S3 bucket to have block public access settings configured ",
        "Description": "This control checks whether your bucket has a bucket-level Block Public Access configuration.",
        "EvaluatedResourceTypes": ["AWS::S3::Bucket"],
        "ComplianceFrameworkMappings": [
            {"ComplianceFramework": "CIS AWS Benchmark 1.4", "Ids": ["2.1.3"]},
            {"ComplianceFramework": "NIST 800-53 Rev 5", "Ids": ["SC-7(21)", "AC-6(10)", "ac-3", "AC-21", "AC-6"]},
        ],
    }
    for name, value in changes.items():
        if value is None:
            data.pop(name)
        else:
            data[name] = value
    return json.dumps(data)


def test_a_control_is_read_with_its_nist_controls_and_resource_types() -> None:
    control = read_metadata("ct-s3-pr-1", _file())
    assert control.control_id == "CT.S3.PR.1"
    assert control.file_stem == "ct-s3-pr-1"
    assert control.title == "Require an Amazon S3 bucket to have block public access settings configured"
    assert control.description.startswith("This control checks")
    assert control.resource_types == ("AWS::S3::Bucket",)
    # Only the NIST framework's ids, upper-cased as the model cites them, in control order.
    assert control.nist == ("AC-3", "AC-6", "AC-6(10)", "AC-21", "SC-7(21)")


def test_a_control_mapped_to_no_nist_control_cites_none() -> None:
    assert read_metadata("ct-s3-pr-1", _file(ComplianceFrameworkMappings=None)).nist == ()
    other = [{"ComplianceFramework": "PCI DSS version 3.2.1", "Ids": ["1.3"]}]
    assert read_metadata("ct-s3-pr-1", _file(ComplianceFrameworkMappings=other)).nist == ()
    assert read_metadata("ct-s3-pr-1", _file(Description=None)).description == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_file(Id=None), "field 'Id' is missing"),
        (_file(DisplayName=None), "field 'DisplayName' is missing"),
        (_file(EvaluatedResourceTypes=None), "field 'EvaluatedResourceTypes' is missing"),
        (_file(EvaluatedResourceTypes=[]), "EvaluatedResourceTypes [] is not a list of resource types"),
        (_file(EvaluatedResourceTypes=["S3 bucket"]), "is not a list of resource types"),
        (_file(Id="CT.S3.PR.2"), "Id 'CT.S3.PR.2' is not a Control Tower id matching its file name"),
        (_file(ComplianceFrameworkMappings=[{"Framework": "NIST 800-53 Rev 5"}]), "'ComplianceFramework' is missing"),
        (
            _file(ComplianceFrameworkMappings=[{"ComplianceFramework": "NIST 800-53 Rev 5", "Ids": ["SC-7(4)(b)"]}]),
            "'SC-7(4)(b)' is not a NIST 800-53 control id",
        ),
        ("[]", "not a JSON object"),
        ("{", "not JSON"),
    ],
)
def test_a_file_not_laid_out_as_expected_is_refused_naming_it(text: str, message: str) -> None:
    with pytest.raises(MetadataLayoutError, match=r"^ct-s3-pr-1\.metadata\.json: ") as raised:
        read_metadata("ct-s3-pr-1", text)
    assert message in str(raised.value)
