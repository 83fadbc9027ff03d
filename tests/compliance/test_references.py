"""TemplateIndex.from_templates: plain template dictionaries indexed as an assembly's stacks would be."""

from __future__ import annotations

from compliance.references import TemplateIndex


def _index() -> TemplateIndex:
    keys = {
        "Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {}}},
        "Outputs": {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}},
    }
    data = {
        "Resources": {
            "Logs": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"KmsKeyId": {"Fn::GetStackOutput": {"StackName": "Dev-Keys", "OutputName": "KeyArn"}}},
                "Metadata": {"aws:cdk:path": "Pipeline/Dev/Data/Logs/Resource"},
            }
        }
    }
    return TemplateIndex.from_templates(
        {"Pipeline": {"Resources": {}}, "Pipeline/Dev/Keys": keys, "Pipeline/Dev/Data": data}, region="us-gov-west-1"
    )


def test_stacks_take_their_stage_and_name_from_the_path() -> None:
    stacks = {s.path: (s.stage, s.stack_name, s.region) for s in _index().stacks}
    assert stacks == {
        "Pipeline": ("", "Pipeline", "us-gov-west-1"),
        "Pipeline/Dev/Keys": ("Dev", "Dev-Keys", "us-gov-west-1"),
        "Pipeline/Dev/Data": ("Dev", "Dev-Data", "us-gov-west-1"),
    }


def test_resources_are_found_by_path_metadata_or_by_logical_id_and_references_are_followed() -> None:
    index = _index()
    logs = index.resource("Pipeline/Dev/Data/Logs/Resource")
    assert logs is not None
    assert index.resource("Pipeline/Dev/Keys/Key") is not None
    target = index.target(logs.stack, logs.properties["KmsKeyId"])
    assert target is not None
    assert (target[0].path, target[1], target[2]["Type"]) == ("Pipeline/Dev/Keys", "Key", "AWS::KMS::Key")


def test_all_resources_walks_every_stack() -> None:
    assert sorted(r.path for r in _index().all_resources()) == [
        "Pipeline/Dev/Data/Logs/Resource",
        "Pipeline/Dev/Keys/Key",
    ]


def test_a_fact_of_the_app_is_computed_once_per_index_and_each_index_has_its_own() -> None:
    calls: list[TemplateIndex] = []

    def resource_count(index: TemplateIndex) -> int:
        calls.append(index)
        return sum(1 for _ in index.all_resources())

    first, second = _index(), TemplateIndex.from_templates({"Pipeline": {"Resources": {}}})

    assert [first.fact(resource_count) for _ in range(3)] == [2, 2, 2]
    assert second.fact(resource_count) == 0
    assert calls == [first, second]
