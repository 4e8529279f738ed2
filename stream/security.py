"""Kafka security from settings, for Faust and for every other Kafka client of the package.

One function builds Faust's credentials object from the ``PULSE_SECURITY_*``, ``PULSE_SASL_*``
and ``PULSE_SSL_*`` settings; the producer, admin and consumer clients get the options
Faust itself would derive from it, so the worker, ``pulse replay``, ``pulse alerts tail``
and ``pulse forget`` connect the same way.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

import faust
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from faust.types.auth import CredentialsT

from stream.settings import Settings

MASK = "***"


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A client TLS context for the SSL protocols: CA bundle and optional client certificate."""
    if settings.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    context = ssl.create_default_context(cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None)
    if settings.ssl_certfile is not None:
        context.load_cert_chain(
            str(settings.ssl_certfile),
            str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
            settings.ssl_key_password.reveal() or None,
        )
    return context


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """``broker_credentials`` for the Faust app; ``None`` for a plaintext broker."""
    context = ssl_context(settings)
    if settings.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password.reveal(),
            ssl_context=context,
            mechanism=settings.sasl_mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def kafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for aiokafka clients (producer, consumer, admin)."""
    credentials = faust_credentials(settings)
    return dict(credentials_to_aiokafka_auth(credentials)) if credentials is not None else {}


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every secret replaced by ``***`` (longest first, so none leaks in part)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def redact_logs(settings: Settings) -> None:
    """Mask configured secrets in every log record, whichever library or handler it goes to.

    A record factory, not a handler filter: Faust replaces the root handlers when the
    worker starts, and a factory sees each record before any handler does.
    """
    secrets = [secret for secret in settings.secrets() if secret]
    if not secrets:
        return
    make_record = logging.getLogRecordFactory()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        message = record.getMessage()
        clean = redact(message, secrets)
        if clean != message:
            record.msg, record.args = clean, None
        return record

    logging.setLogRecordFactory(masked_record)
