"""The key and certificate the service serves TLS with, made in memory when the process starts.

The load balancer in front of the tasks connects to them over TLS (its target group's protocol is
TLS) and, as the Network Load Balancer guide says of such target groups, "does not validate these
certificates. Therefore, you can use self-signed certificates or certificates that have expired"
(https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html,
"Routing configuration"). So each task makes its own key when it starts: there is nothing to issue,
hand out, rotate or keep secret, and the key lives only in the process's memory (the task's root
filesystem is read-only, and an anonymous memory file, not a disk, carries the PEM to OpenSSL).

What this protects is the last hop's confidentiality (SC-8(1)): who may reach the task at all is the
security groups' business (only the load balancer), and who may call the API is IAM's, at API Gateway.
The server accepts TLS 1.2 and 1.3: the load balancer's HTTPS health checks fail on a target that
accepts only TLS 1.3 (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html).
"""

from __future__ import annotations

import os
import ssl
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The name in the certificate: nothing checks it (see the module docstring), it only says what the peer is.
COMMON_NAME = "monitoring-service"
RSA_KEY_BITS = 2048
# Longer than any task lives between deployments; a task that outlives it still serves (nothing validates it).
VALIDITY_DAYS = 397
# Some slack for a peer whose clock runs behind the task's.
_BACKDATE = timedelta(minutes=5)


def self_signed_certificate(
    key: rsa.RSAPrivateKey, *, now: datetime | None = None, days: int = VALIDITY_DAYS
) -> x509.Certificate:
    """A server certificate for `key`, signed by `key` itself, valid from a little before `now` for `days` days."""
    now = now or datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, COMMON_NAME)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(COMMON_NAME)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )


def server_context() -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2 and 1.3) with a key made now and its self-signed certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    pem = self_signed_certificate(key).public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # OpenSSL reads a certificate chain only from a file: an anonymous memory file is one that no disk holds.
    with os.fdopen(os.memfd_create("service-tls", os.MFD_CLOEXEC), "wb") as memory:
        memory.write(pem)
        memory.flush()
        context.load_cert_chain(f"/proc/self/fd/{memory.fileno()}")
    return context
