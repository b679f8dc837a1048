"""The deployment: docker-compose.yml, the Dockerfile, gunicorn.conf.py and the production settings."""

import json
import os
import re
import runpy
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")
APP_ENV = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY", "ALLOWED_HOSTS")
LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
# Settings the production module reads that a developer's shell might set; each test sets its own.
SETTINGS_ENV = (
    "DJANGO_SETTINGS_MODULE",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DEBUG",
    "DATABASE_URL",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "CSRF_TRUSTED_ORIGINS",
)


def _argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def _environment(service: dict) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


def _healthcheck(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else test


def _production_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in SETTINGS_ENV}
    env.update(DJANGO_SETTINGS_MODULE="shop.settings.production", **overrides)
    return env


def _secret_key() -> str:
    return secrets.token_urlsafe(64)


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def test_docker_compose_accepts_the_file_and_web_believes_only_nginx_forwarded_address(rf, settings):
    """Debian's docker-compose checks the schema and interpolation without a daemon; the
    resolved file's TRUSTED_PROXIES, read by the shop's own rule, believes a peer on the compose
    network (nginx) and nobody else."""
    from shop.client_address import client_address

    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (scripts/services.sh tools installs Debian's as root)")
    base = {"PATH": os.environ["PATH"]}
    missing = subprocess.run([binary, "config", "-q"], cwd=ROOT, env=base, capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "SECRET_KEY" in missing.stderr
    result = subprocess.run(
        [binary, "config"],
        cwd=ROOT,
        env={**base, "SECRET_KEY": "x" * 50, "POSTGRES_PASSWORD": "compose-check"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    web = yaml.safe_load(result.stdout)["services"]["web"]
    assert "ports" not in web
    settings.TRUSTED_PROXIES = web["environment"]["TRUSTED_PROXIES"].split(",")
    through_nginx = rf.get("/", REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert client_address(through_nginx) == "198.51.100.7"
    from_outside = rf.get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert client_address(from_outside) == "203.0.113.9"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def test_compose_has_web_worker_beat_postgres_redis(services):
    assert {"web", "worker", "beat", "postgres", "redis"} <= set(services)


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("web", ["gunicorn", "--config", "gunicorn.conf.py"]),
        ("worker", ["celery", "-A", "shop", "worker"]),
        ("beat", ["celery", "-A", "shop", "beat"]),
    ],
)
def test_app_services_run_the_expected_command(services, service, expected):
    assert _argv(services[service]["command"])[: len(expected)] == expected


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_get_production_environment(services, service):
    environment = _environment(services[service])
    for name in APP_ENV:
        assert environment.get(name), f"{service} lacks {name}"
    assert environment["DJANGO_SETTINGS_MODULE"] == "shop.settings.production"
    assert environment["DEBUG"] in {"0", "False", "false"}
    assert "@postgres:5432/" in environment["DATABASE_URL"]
    assert environment["REDIS_URL"].startswith("redis://redis:6379/")
    assert environment["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
    assert environment["REDIS_URL"] != environment["CELERY_BROKER_URL"]
    # Required from .env, never a default baked into the file.
    assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")


def test_images_are_the_pinned_majors(services):
    assert re.fullmatch(r"postgres:1[56](\..*)?(-.*)?", services["postgres"]["image"])
    assert re.fullmatch(r"redis:7(\..*)?(-.*)?", services["redis"]["image"])
    for name in APP_SERVICES:
        assert services[name].get("build"), f"{name} is not built from the Dockerfile"


def test_healthchecks(services):
    assert "pg_isready" in _healthcheck(services["postgres"])
    assert "redis-cli ping" in _healthcheck(services["redis"])
    assert "/healthz" in _healthcheck(services["web"])


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_wait_for_healthy_postgres_and_redis(services, service):
    depends_on = services[service]["depends_on"]
    assert isinstance(depends_on, dict), "depends_on needs conditions, not a list"
    assert depends_on["postgres"]["condition"] == "service_healthy"
    assert depends_on["redis"]["condition"] == "service_healthy"


def test_migrations_run_before_the_app_starts(services):
    migrate = services["migrate"]
    assert _argv(migrate["command"])[:3] == ["python", "manage.py", "migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in APP_SERVICES:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_data_lives_on_declared_volumes(compose, services):
    declared = set(compose.get("volumes") or {})
    mounts = {
        "postgres": "/var/lib/postgresql/data",
        "redis": "/data",
    }
    for service, target in mounts.items():
        volumes = [volume.split(":") for volume in services[service]["volumes"]]
        named = {source for source, mounted, *_ in volumes if mounted == target}
        assert named and named <= declared, f"{service} keeps {target} off a declared volume"


def test_dockerfile_matches_compose(services):
    instructions = _dockerfile_instructions()
    froms = [arguments for instruction, arguments in instructions if instruction == "FROM"]
    assert froms[-1].split()[0] == "python:3.11-slim"
    cmd = [arguments for instruction, arguments in instructions if instruction == "CMD"][-1]
    assert json.loads(cmd) == _argv(services["web"]["command"])
    assert not [arguments for instruction, arguments in instructions if instruction == "ENTRYPOINT"]
    users = [arguments for instruction, arguments in instructions if instruction == "USER"]
    assert users and users[-1] not in {"root", "0"}
    assert ("EXPOSE", "8000") in instructions
    runs = " ".join(arguments for instruction, arguments in instructions if instruction == "RUN")
    assert "pip install" in runs and "requirements.txt" in runs
    assert "collectstatic" in runs
    env = " ".join(arguments for instruction, arguments in instructions if instruction == "ENV")
    assert "DJANGO_SETTINGS_MODULE=shop.settings.production" in env
    assert "SECRET_KEY" not in env, "a build-time key must not persist in the image"


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".git", ".venv", "db.sqlite3"} <= ignored


def test_gunicorn_config_defaults(monkeypatch):
    for name in list(os.environ):
        if name.startswith("GUNICORN_"):
            monkeypatch.delenv(name)
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert config["wsgi_app"] == "shop.wsgi:application"
    assert config["bind"] == "0.0.0.0:8000"
    assert config["workers"] == 2 * os.cpu_count()
    assert config["threads"] == 2
    # Recycling would pile the keep-alive connections onto the workers that stay.
    assert config["max_requests"] == 0
    assert config["preload_app"] is True
    assert callable(config["pre_fork"])
    assert config["accesslog"] == "-"


def test_gunicorn_config_reads_environment(monkeypatch):
    monkeypatch.setenv("GUNICORN_BIND", "127.0.0.1:9000")
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    monkeypatch.setenv("GUNICORN_THREADS", "4")
    monkeypatch.setenv("GUNICORN_TIMEOUT", "45")
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert (config["bind"], config["workers"], config["threads"], config["timeout"]) == ("127.0.0.1:9000", 3, 4, 45)


def test_production_settings_pass_the_deploy_check():
    env = _production_env(
        SECRET_KEY=_secret_key(),
        ALLOWED_HOSTS="shop.example.com",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/shop",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "no issues" in output
    assert "WARNING" not in output


# A .env is no part of a production image (.dockerignore), so the settings must not find one here.
WITHOUT_DOTENV = """
import environ
environ.Env.read_env = classmethod(lambda cls, *args, **kwargs: None)
import django
from django.core.exceptions import ImproperlyConfigured
try:
    django.setup()
except ImproperlyConfigured as error:
    print("refused:", error)
else:
    raise SystemExit("production settings started without {name}")
"""


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_settings_refuse_to_start_without(missing):
    given = {"SECRET_KEY": _secret_key(), "ALLOWED_HOSTS": "shop.example.com"}
    del given[missing]
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_DOTENV.format(name=missing)],
        cwd=ROOT,
        env=_production_env(**given),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "refused:" in result.stdout and missing in result.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthcheck_passes(*, command: list[str], env: dict, port: int, probe: str, name: str) -> None:
    """Start a server as its compose service would, wait until it listens, and run the service's
    healthcheck probe against it: it must exit 0."""
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.stderr.read()
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, f"{name} did not listen within 30 s"
            time.sleep(0.1)
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_web_healthcheck_passes_against_gunicorn_with_production_settings(services):
    """The compose healthcheck, run as written, against gunicorn started from gunicorn.conf.py."""
    test = services["web"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    port = _free_port()
    env = _production_env(
        SECRET_KEY=_secret_key(),
        # As compose sets it: the operator's hosts, plus localhost for the healthcheck.
        ALLOWED_HOSTS="localhost,shop.example.com",
        DATABASE_URL=LOCAL_POSTGRES,
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="1",
    )
    _healthcheck_passes(
        command=[sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
        env=env,
        port=port,
        probe=test[3].replace("127.0.0.1:8000", f"127.0.0.1:{port}"),
        name="gunicorn",
    )


def test_the_live_service_runs_uvicorn_beside_web_with_its_healthcheck(services):
    live = services["live"]
    assert _argv(live["command"]) == ["python", "-m", "live.serve"]
    assert live.get("build") and "ports" not in live
    environment = _environment(live)
    assert environment["DJANGO_SETTINGS_MODULE"] == "shop.settings.production"
    assert environment["LIVE_BIND"] == "0.0.0.0:8001"
    assert environment["REDIS_URL"].startswith("redis://redis:6379/")
    assert environment["TRUSTED_PROXIES"] == _environment(services["web"])["TRUSTED_PROXIES"]
    assert live["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert live["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "/healthz" in _healthcheck(live) and "8001" in _healthcheck(live)
    assert services["nginx"]["depends_on"]["live"]["condition"] == "service_healthy"
    assert ("EXPOSE", "8001") in _dockerfile_instructions()


def test_live_healthcheck_passes_against_uvicorn_with_production_settings(services):
    """The compose healthcheck of live, as written, against `python -m live.serve` (production settings)."""
    test = services["live"]["healthcheck"]["test"]
    port = _free_port()
    env = _production_env(
        SECRET_KEY=_secret_key(),
        ALLOWED_HOSTS="localhost,shop.example.com",
        DATABASE_URL=LOCAL_POSTGRES,
        LIVE_BIND=f"127.0.0.1:{port}",
    )
    _healthcheck_passes(
        command=[sys.executable, "-m", "live.serve"],
        env=env,
        port=port,
        probe=test[3].replace("127.0.0.1:8001", f"127.0.0.1:{port}"),
        name="uvicorn",
    )
