"""The deployment files, checked for structure (no Docker engine runs the tests)."""

from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]


def test_compose_runs_kafka_in_kraft_mode_and_a_worker_built_from_deploy():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    kafka, worker = compose["services"]["kafka"], compose["services"]["worker"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]
    assert "healthcheck" in kafka
    assert worker["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
    assert (ROOT / worker["build"]["dockerfile"]).exists()
    assert worker["environment"]["PULSE_BROKER"] == "kafka://kafka:9092"
    assert worker["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert any(volume.endswith(":/data") for volume in worker["volumes"])
    assert set(compose["volumes"]) >= {"kafka-data", "worker-data"}


def test_worker_image_installs_the_package_and_runs_the_worker():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert dockerfile.startswith("# ") and "FROM python:3.11" in dockerfile
    for copied in ("pyproject.toml", "models", "stream"):
        assert f"COPY {copied}" in dockerfile or f" {copied} " in dockerfile
    assert 'ENTRYPOINT ["pulse"]' in dockerfile and 'CMD ["worker"]' in dockerfile
    assert "PULSE_DATA_DIR=/data" in dockerfile
