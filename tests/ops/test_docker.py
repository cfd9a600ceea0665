"""docker/: the compose file validates and the Dockerfile and configs are production-shaped.

No Docker engine runs here: `docker-compose config` (Debian's v1) validates the file, and
the Dockerfile, Caddyfile and coturn config are checked by reading them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_or_skip

DOCKER = Path(__file__).resolve().parents[2] / "docker"


@pytest.fixture(scope="module")
def compose_config() -> dict[str, Any]:
    if shutil.which("docker-compose") is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "docker-compose"], check=False,
                       capture_output=True, timeout=600, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    require_or_skip(shutil.which("docker-compose") is not None, "docker-compose (Debian package)")
    done = subprocess.run(
        ["docker-compose", "--env-file", str(DOCKER / ".env.example"), "-f", str(DOCKER / "compose.yaml"), "config"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    assert isinstance(config, dict)
    return config


def test_compose_validates_with_all_services(compose_config: dict[str, Any]) -> None:
    """The compose file is valid and has two app instances, PostgreSQL, Redis, coturn and a proxy."""
    assert {"app1", "app2", "postgres", "redis", "coturn", "proxy", "migrate"} <= set(compose_config["services"])


def test_apps_share_database_redis_and_turn_secret(compose_config: dict[str, Any]) -> None:
    """Both instances use the same database, Redis and TURN secret, and coturn gets that secret."""
    services = compose_config["services"]
    env1, env2 = services["app1"]["environment"], services["app2"]["environment"]
    for key in ("VD_DATABASE_URL", "VD_REDIS_URL", "VD_SECRET_KEY", "VD_TURN_SECRET"):
        assert env1[key] and env1[key] == env2[key], key
    assert env1["VD_ENVIRONMENT"] == "production"
    assert env1["VD_ALLOWED_ORIGINS"].startswith("https://")
    coturn_cmd = " ".join(services["coturn"]["command"])
    assert f"--static-auth-secret={env1['VD_TURN_SECRET']}" in coturn_cmd
    assert "turn:" in env1["VD_TURN_URLS"]


def test_proxy_terminates_tls_for_both_instances() -> None:
    """Caddy serves the domain over HTTPS (WSS rides on it) and balances both instances by health."""
    caddyfile = (DOCKER / "caddy" / "Caddyfile").read_text()
    assert "{$VD_DOMAIN}" in caddyfile
    assert re.search(r"reverse_proxy\s+app1:8000\s+app2:8000", caddyfile)
    assert "health_uri /healthz" in caddyfile
    assert "respond /metrics 404" in caddyfile


def test_coturn_denies_private_ranges_and_sets_quotas() -> None:
    """coturn uses the shared secret, refuses relaying to private and loopback ranges, has quotas."""
    conf = (DOCKER / "coturn" / "turnserver.conf").read_text()
    lines = {line.strip() for line in conf.splitlines() if line.strip() and not line.startswith("#")}
    for required in ("use-auth-secret", "no-cli", "no-multicast-peers"):
        assert required in lines
    assert any(line.startswith("realm=") for line in lines)
    assert any(line.startswith("user-quota=") for line in lines)
    assert any(line.startswith("total-quota=") for line in lines)
    denied = {line.split("=", 1)[1] for line in lines if line.startswith("denied-peer-ip=")}
    for block in ("10.0.0.0-10.255.255.255", "127.0.0.0-127.255.255.255", "172.16.0.0-172.31.255.255",
                  "192.168.0.0-192.168.255.255", "169.254.0.0-169.254.255.255", "::1"):
        assert block in denied, block
    assert not any(line.startswith("static-auth-secret") for line in lines), "the secret belongs in .env"


def test_dockerfile_is_multi_stage_non_root_with_healthcheck() -> None:
    """The Dockerfile builds wheels in one stage, runs as a non-root user and checks /healthz."""
    text = (DOCKER / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\w+)", text, flags=re.MULTILINE | re.IGNORECASE)
    assert len(stages) >= 2 and stages[0] == "builder", stages
    runtime = text.split(f"AS {stages[-1]}", 1)[1]
    assert "COPY --from=builder" in runtime
    users = re.findall(r"^USER\s+(\S+)", runtime, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    healthcheck = re.search(r"^HEALTHCHECK .*", runtime, flags=re.MULTILINE | re.DOTALL)
    assert healthcheck and "/healthz" in healthcheck.group(0)
    assert re.search(r'^CMD \["videodolmetschen", "serve"', runtime, flags=re.MULTILINE)
    assert "pip wheel" in text.split(f"AS {stages[-1]}", 1)[0]


def test_env_example_names_every_secret() -> None:
    """`.env.example` lists every secret the compose file requires."""
    example = (DOCKER / ".env.example").read_text()
    compose = (DOCKER / "compose.yaml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", compose))
    defined = set(re.findall(r"^(\w+)=", example, flags=re.MULTILINE))
    assert required <= defined, required - defined
