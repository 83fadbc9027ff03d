"""The AWS facts come from cfn-lint's data, read without importing cfn-lint (which imports every rule it has)."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources

from config import PROJECT_ROOT, aws_facts


def test_the_zone_table_read_from_cfn_lints_source_is_the_one_it_imports() -> None:
    # Canary for a cfn-lint upgrade: if the table moves or stops being a literal, this names it (and
    # availability_zones() falls back to importing cfn-lint, correct but most of a second slower).
    from cfnlint.helpers import AVAILABILITY_ZONES

    assert aws_facts.table_in_source() is not None, "cfnlint/helpers.py writes AVAILABILITY_ZONES as no literal"
    assert aws_facts.table_in_source() == AVAILABILITY_ZONES
    assert aws_facts.availability_zones()["us-gov-west-1"] == tuple(AVAILABILITY_ZONES["us-gov-west-1"])


def test_the_data_files_are_the_packages_own() -> None:
    schemas = aws_facts.cfn_lint_folder() / "data" / "schemas"
    for package, name in (
        ("cfnlint.data.schemas.extensions", "aws_rds_dbinstance/engine_version.json"),
        ("cfnlint.data.schemas.providers", "us-east-1.json"),
    ):
        packaged = resources.files(package).joinpath(*name.split("/")).read_text(encoding="utf-8")
        assert (schemas / package.rsplit(".", 1)[1] / name).read_text(encoding="utf-8") == packaged
    assert aws_facts.resource_type_offered("us-east-1", "AWS::RDS::DBInstance")
    assert not aws_facts.resource_type_offered("us-east-1", "AWS::RDS::NoSuchThing")
    assert not aws_facts.resource_type_offered("xx-nowhere-1", "AWS::RDS::DBInstance")


def test_validating_a_configuration_never_imports_cfn_lint_or_the_cdk() -> None:
    script = (
        "import sys\n"
        "from config import DEFAULT_CONFIG_PATH, load_config\n"
        "load_config(DEFAULT_CONFIG_PATH)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'cfnlint', 'aws_cdk', 'jsii'}))\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False, timeout=60
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "[]"
