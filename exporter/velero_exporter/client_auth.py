"""TLS and basic auth for the exporter's own requests as a client: to the Kubernetes API (sources/kube) and, from
the report command, to Prometheus. One way to build both, so a CA, a client certificate and an insecure flag
mean the same to each."""

from __future__ import annotations

import base64
import pathlib
import ssl
import tempfile


def tls_context(
    *,
    ca_file: str | None = None,
    ca_data: str | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
    cert_data: str | None = None,
    key_data: str | None = None,
    insecure: bool = False,
) -> ssl.SSLContext:
    """A client context: the given CA (file or PEM text; else the system's roots), a client certificate (files or
    PEM text), and with `insecure` no verification at all. Raises OSError or ssl.SSLError on unreadable input."""
    context = ssl.create_default_context(cafile=ca_file, cadata=ca_data)
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    elif cert_data:
        # ssl loads a client key only from files: a private directory that lives for the call.
        with tempfile.TemporaryDirectory(prefix="velero-exporter-") as tmp:
            cert, key = pathlib.Path(tmp, "tls.crt"), pathlib.Path(tmp, "tls.key")
            cert.write_text(cert_data, encoding="utf-8")
            key.write_text(key_data or "", encoding="utf-8")
            context.load_cert_chain(cert, key if key_data else None)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def basic_auth(user: str, password: str) -> str:
    """The Authorization header's value for basic auth (RFC 7617, UTF-8)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
