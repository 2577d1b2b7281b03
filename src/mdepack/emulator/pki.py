"""Certificates and signed tokens for the emulator: a CA, a server certificate for 127.0.0.1 and
localhost, RS256 JWTs, and client certificates for certificate-credential apps."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWTs use."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Inverse of :func:`b64url`."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Pki:
    """PEM texts the emulator serves TLS with, and the key it signs tokens with."""

    ca_pem: str
    server_cert_pem: str
    server_key_pem: str
    signing_key: rsa.RSAPrivateKey
    key_id: str


def _pem_key(key: Any) -> str:
    return str(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@functools.lru_cache(maxsize=1)
def pki() -> Pki:
    """The emulator's certificates and signing key, made once per process."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("mdepack emulator CA"))
        .issuer_name(_name("mdepack emulator CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_der = signing_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Pki(
        ca_pem=ca.public_bytes(serialization.Encoding.PEM).decode(),
        server_cert_pem=server.public_bytes(serialization.Encoding.PEM).decode(),
        server_key_pem=_pem_key(server_key),
        signing_key=signing_key,
        key_id=hashlib.sha256(public_der).hexdigest()[:16],
    )


def sign_jwt(claims: dict[str, Any], key: rsa.RSAPrivateKey, key_id: str) -> str:
    """An RS256 JWT with these claims."""
    header = {"typ": "JWT", "alg": "RS256", "kid": key_id}
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(signature)


def verify_jwt(token: str, public_key: Any) -> dict[str, Any] | None:
    """The claims of an RS256 (or ES256-less) JWT whose signature `public_key` verifies, else None."""
    try:
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        if header.get("alg") not in ("RS256", "PS256"):
            return None
        signing_input = f"{header_b64}.{claims_b64}".encode()
        signature = b64url_decode(signature_b64)
        scheme = padding.PKCS1v15() if header["alg"] == "RS256" else _pss()
        public_key.verify(signature, signing_input, scheme, hashes.SHA256())
        claims = json.loads(b64url_decode(claims_b64))
    except (ValueError, KeyError, InvalidSignature, TypeError):
        return None
    return claims if isinstance(claims, dict) else None


def jwt_header(token: str) -> dict[str, Any]:
    """A JWT's header, unverified (to find which key should verify it)."""
    try:
        header = json.loads(b64url_decode(token.split(".")[0]))
    except (ValueError, IndexError):
        return {}
    return header if isinstance(header, dict) else {}


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def client_certificate(common_name: str = "mdepack client") -> tuple[str, x509.Certificate]:
    """A self-signed RSA client certificate: (PEM with key and certificate, the certificate)."""
    now = dt.datetime.now(dt.timezone.utc)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pem = _pem_key(key) + cert.public_bytes(serialization.Encoding.PEM).decode()
    return pem, cert


def thumbprints(cert: x509.Certificate) -> set[str]:
    """The base64url SHA-1 and SHA-256 thumbprints a client assertion header may name."""
    der = cert.public_bytes(serialization.Encoding.DER)
    return {
        b64url(hashlib.sha1(der, usedforsecurity=False).digest()),
        b64url(hashlib.sha256(der).digest()),
    }
