"""Creates the Postgres database named in DATABASE_URL when the server answers and the database is missing.

Exits 0 in every case but a refused CREATE DATABASE: when no server answers, the local
settings fall back to the embedded default by themselves.
"""

import sys
from pathlib import Path

import environ
import psycopg
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent


def database_ensure(*, url: str) -> str:
    """Return what was done: 'skipped', 'exists' or 'created'."""
    config = environ.Env.db_url_config(url)
    if "postgresql" not in config["ENGINE"]:
        return "skipped"
    name = config["NAME"]
    connect = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
        "connect_timeout": 2,
    }
    try:
        maintenance = psycopg.connect(dbname="postgres", autocommit=True, **connect)
    except psycopg.OperationalError:
        return "skipped"
    with maintenance:
        found = maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if found:
            return "exists"
        try:
            maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            return "exists"
    return "created"


def main() -> int:
    # The settings resolve DATABASE_URL (environment, then .env, then the default) in one place.
    sys.path.insert(0, str(BASE_DIR))
    from shop.settings.base import DATABASE_URL as url

    try:
        outcome = database_ensure(url=url)
    except psycopg.Error as error:
        print(f"==> could not create the database: {error}", file=sys.stderr)
        return 1
    if outcome == "created":
        print(f"==> created database {environ.Env.db_url_config(url)['NAME']}", file=sys.stderr)
    elif outcome == "skipped":
        print("==> PostgreSQL not reachable: the embedded default (SQLite) will serve", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
