"""nginx as shipped (deploy/nginx.conf) on loopback in front of a bench gunicorn: the slowloris bench, the tests."""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench._server import free_port, process_group_stop, served_started

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or next(
    (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)), None
)
# Debian's and the official image's nginx both keep the MIME table here.
MIME_TYPES = Path("/etc/nginx/mime.types")
SKIP_REASON = "nginx is not installed (scripts/services.sh tools installs Debian's when run as root)"


def _replace_once(text: str, pattern: str, replacement: str) -> str:
    """Replace the one match of pattern; a shipped file that no longer has it exactly once is an error."""
    new, count = re.subn(pattern, lambda _: replacement, text, flags=re.MULTILINE)
    if count != 1:
        raise ValueError(f"deploy/nginx.conf: expected one match of {pattern!r}, found {count}")
    return new


def config_local(
    *,
    upstream_port: int,
    listen_port: int,
    prefix: Path,
    static_root: Path = ROOT / "static",
    live_port: int | None = None,
) -> str:
    """The shipped config for this machine: every timeout, buffer and header as shipped; the upstream
    at 127.0.0.1:upstream_port (the live channel's at live_port, else the same), listening on
    127.0.0.1:listen_port only, temp files and pid in prefix."""
    text = SHIPPED_CONFIG.read_text()
    text = _replace_once(text, r"^\s*server web:8000 resolve;.*$", f"        server 127.0.0.1:{upstream_port};")
    live = live_port or upstream_port
    text = _replace_once(text, r"^\s*server live:8001 resolve;.*$", f"        server 127.0.0.1:{live};")
    text = _replace_once(text, r"^\s*listen 80;.*$", f"        listen 127.0.0.1:{listen_port};")
    text = _replace_once(text, r"^\s*alias /srv/static/;.*$", f"            alias {static_root}/;")
    text = _replace_once(text, r"^\s*include mime.types;$", f"    include {MIME_TYPES};")
    # A process of its own: no daemon, its pid and temp files in prefix rather than the system's.
    text = f"daemon off;\npid {prefix}/nginx.pid;\n" + text
    temp_paths = "".join(
        f"    {name}_temp_path {prefix}/{name};\n" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return _replace_once(text, r"^http \{$", "http {\n" + temp_paths)


def config_test(config: Path) -> subprocess.CompletedProcess:
    """`nginx -t` on a config file; the error log of the test itself goes beside the file."""
    assert NGINX is not None, SKIP_REASON
    return subprocess.run(
        [NGINX, "-t", "-p", str(config.parent), "-e", str(config.parent / "error.log"), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )


class Nginx:
    """nginx with config_local() in front of upstream_port, on a free loopback port.

    A context manager: writes the config to a temp folder, checks it with `nginx -t`, starts nginx in
    the foreground, waits until /healthz answers through it, and stops it (and its workers) on exit.
    """

    def __init__(self, *, upstream_port: int, live_port: int | None = None):
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        # Workers run as nobody when nginx starts as root: let them into the temp folder.
        self.folder.chmod(0o755)
        self.config = self.folder / "nginx.conf"
        self.config.write_text(
            config_local(upstream_port=upstream_port, listen_port=self.port, prefix=self.folder, live_port=live_port)
        )
        self.log = self.folder / "nginx.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Nginx":
        checked = config_test(self.config)
        if checked.returncode != 0:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise RuntimeError(f"nginx -t refused the derived config:\n{checked.stderr}")
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [NGINX, "-p", str(self.folder), "-e", str(self.folder / "error.log"), "-c", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        served_started(self, name="nginx")
        return self

    def __exit__(self, *exc) -> None:
        process_group_stop(self.process)  # SIGTERM is nginx's fast shutdown
        shutil.rmtree(self.folder, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        texts = [path.read_text(errors="replace") for path in (self.log, self.folder / "error.log") if path.exists()]
        return "\n".join("\n".join(texts).splitlines()[-lines:])
