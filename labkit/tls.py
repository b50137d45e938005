"""Loopback TLS for the lab: a lab certificate authority and a leaf for 127.0.0.1/localhost, made with ``cryptography``.

The keys are derived from a seed (the same seed gives the same keys and names; ECDSA signatures still differ), the
files go to a directory the caller owns (a temporary one), and the CA is trusted only through ``ssl_context()``,
handed explicitly to the lab's own clients. Nothing is ever written to a system trust store.
"""

from __future__ import annotations

import hashlib
import ipaddress
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["LabCA"]

_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _key(seed: bytes, label: bytes) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key derived from ``seed`` and ``label`` (deterministic, lab-only)."""
    scalar = int.from_bytes(hashlib.sha512(b"labkit-tls\x00" + label + b"\x00" + seed).digest(), "big")
    return ec.derive_private_key(scalar % (_P256_ORDER - 1) + 1, ec.SECP256R1())


def _serial(seed: bytes, label: bytes) -> int:
    return int.from_bytes(hashlib.sha256(b"serial\x00" + label + b"\x00" + seed).digest()[:16], "big") >> 1


class LabCA:
    """A lab CA and one server certificate for ``hosts`` (IP addresses and DNS names), valid for ``days``.

    ``clock`` dates the validity window, starting at the UTC midnight before now (TLS peers check it against the
    real time, so it is not a fixed lab clock). Raises ``ValueError`` for an empty seed or host list.
    """

    def __init__(self, *, seed: bytes = b"oauth2-lab", hosts: tuple[str, ...] = ("127.0.0.1", "::1", "localhost"),
                 days: int = 7, clock: Callable[[], float] = time.time) -> None:
        if not seed or not hosts:
            raise ValueError("LabCA needs a seed and at least one host")
        now = datetime.fromtimestamp(clock(), UTC)
        start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        end = start + timedelta(days=days + 1)
        self._ca_key = _key(seed, b"ca")
        self._leaf_key = _key(seed, b"leaf")
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "oauth2-lab loopback CA (lab only)")])
        ca_public = self._ca_key.public_key()
        self.ca_cert = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_public)
            .serial_number(_serial(seed, b"ca")).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            # only names on the loopback may ever be vouched for by this CA
            .add_extension(x509.NameConstraints(_names(hosts, networks=True), None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_public), critical=False)
            .sign(self._ca_key, hashes.SHA256())
        )
        leaf_public = self._leaf_key.public_key()
        self.leaf_cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name).public_key(leaf_public)
            .serial_number(_serial(seed, b"leaf")).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(_names(hosts)), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public), critical=False)
            .sign(self._ca_key, hashes.SHA256())
        )
        self.hosts = hosts

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate (PEM): what a client must trust, and nothing else."""
        return self.ca_cert.public_bytes(serialization.Encoding.PEM)

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this CA only (not the system's CAs), hostname checks on."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=self.ca_pem.decode("ascii"))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def write_server_files(self, directory: str | Path) -> tuple[str, str]:
        """Write the leaf chain and its key (mode 0600) into ``directory``; returns ``(certfile, keyfile)``."""
        folder = Path(directory)
        certfile, keyfile = folder / "lab-leaf.pem", folder / "lab-leaf.key"
        certfile.write_bytes(self.leaf_cert.public_bytes(serialization.Encoding.PEM) + self.ca_pem)
        keyfile.touch(mode=0o600)
        keyfile.write_bytes(self._leaf_key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
        return str(certfile), str(keyfile)


def _names(hosts: tuple[str, ...], *, networks: bool = False) -> list[x509.GeneralName]:
    """Subject alternative names for ``hosts`` (or, with ``networks``, name-constraint subtrees: /32 and /128)."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            names.append(x509.DNSName(host))
            continue
        names.append(x509.IPAddress(ipaddress.ip_network(address) if networks else address))
    return names
