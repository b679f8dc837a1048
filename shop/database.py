"""A Postgres cursor bound on the server, for the statements the hot paths prepare once per connection."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def server_cursor() -> Iterator:
    """A psycopg cursor on Django's connection whose parameters are bound on the server (Django
    binds them on the client), so a statement run with prepare=True is planned once per
    connection where DB_PREPARE_THRESHOLD allows (shop/settings/base.py). Its errors come out as
    Django's; it takes part in any transaction Django has open."""
    from psycopg import Cursor

    with connection.wrap_database_errors:
        connection.ensure_connection()
        with Cursor(connection.connection) as cursor:
            yield cursor
