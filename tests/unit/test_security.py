"""Kafka security settings reach every client; secrets stay out of reprs and logs."""

from __future__ import annotations

import logging
import ssl
import subprocess
from pathlib import Path

import faust
import pytest

from models.errors import ConfigError
from stream.security import faust_credentials, kafka_options, redact_logs
from stream.settings import Secret, Settings

OPENSSL_SELF_SIGNED = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=t"]
SASL = {
    "PULSE_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "PULSE_SASL_MECHANISM": "SCRAM-SHA-512",
    "PULSE_SASL_USERNAME": "pulse",
    "PULSE_SASL_PASSWORD": "s3cret-pa55",
}


@pytest.fixture(scope="module")
def client_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [*OPENSSL_SELF_SIGNED, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_plaintext_by_default_adds_no_client_options():
    settings = Settings.from_env({})
    assert faust_credentials(settings) is None
    assert kafka_options(settings) == {}


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_settings_pass_through_to_faust_and_aiokafka(mechanism):
    settings = Settings.from_env({**SASL, "PULSE_SASL_MECHANISM": mechanism})
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert kafka_options(settings) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "pulse",
        "sasl_plain_password": "s3cret-pa55",
        "ssl_context": None,
    }


def test_sasl_over_tls_with_a_client_certificate(client_cert):
    cert, key = client_cert
    settings = Settings.from_env(
        {**SASL, "PULSE_SECURITY_PROTOCOL": "SASL_SSL", "PULSE_SSL_CAFILE": str(cert), "PULSE_SSL_CERTFILE": str(cert)}
        | {"PULSE_SSL_KEYFILE": str(key)}
    )
    options = kafka_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_tls_only(client_cert):
    cert, _key = client_cert
    options = kafka_options(Settings.from_env({"PULSE_SECURITY_PROTOCOL": "SSL", "PULSE_SSL_CAFILE": str(cert)}))
    assert options["security_protocol"] == "SSL" and isinstance(options["ssl_context"], ssl.SSLContext)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"PULSE_SECURITY_PROTOCOL": "SASL"}, "PULSE_SECURITY_PROTOCOL must be one of"),
        ({**SASL, "PULSE_SASL_MECHANISM": "GSSAPI"}, "PULSE_SASL_MECHANISM must be one of"),
        ({"PULSE_SECURITY_PROTOCOL": "SASL_SSL"}, "needs PULSE_SASL_USERNAME and PULSE_SASL_PASSWORD"),
        ({"PULSE_SSL_CAFILE": "/nowhere/ca.pem"}, r"PULSE_SSL_CAFILE=/nowhere/ca.pem: no such file"),
        ({"PULSE_SASL_PASSWORD_FILE": "/nowhere/pw"}, "PULSE_SASL_PASSWORD_FILE=/nowhere/pw: cannot read"),
    ],
)
def test_bad_security_settings_name_the_variable(env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        Settings.from_env(env)


def test_secrets_from_files_and_never_in_reprs(tmp_path):
    (tmp_path / "pw").write_text("from-a-file\n")
    settings = Settings.from_env(
        {**SASL, "PULSE_SASL_PASSWORD": "", "PULSE_SASL_PASSWORD_FILE": str(tmp_path / "pw")}
        | {"PULSE_PSEUDONYMISE_KEY": "hmac-key-123"}
    )
    assert settings.sasl_password.reveal() == "from-a-file"
    shown = f"{settings!r} {settings} {faust_credentials(settings)!r}"
    assert "from-a-file" not in shown and "hmac-key-123" not in shown
    assert "Secret('***')" in shown
    assert sorted(settings.secrets()) == ["from-a-file", "hmac-key-123"]
    assert Secret("x") == Secret("x") != Secret("y")


def test_secrets_are_masked_in_every_log_record(caplog):
    settings = Settings.from_env({**SASL, "PULSE_SASL_PASSWORD": "pw-secret", "PULSE_PSEUDONYMISE_KEY": "pw"})
    factory = logging.getLogRecordFactory()
    try:
        redact_logs(settings)
        with caplog.at_level(logging.INFO):
            logging.getLogger("aiokafka.conn").info("auth failed for %s with %s", "pulse", "pw-secret")
            logging.getLogger("faust").warning("config: password=pw-secret")
    finally:
        logging.setLogRecordFactory(factory)
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["auth failed for pulse with ***", "config: password=***"]
