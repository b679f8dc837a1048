"""Keeps the catalogue's words, which search corrections are looked up in, in step with the products."""

from django.db import connection


def search_words_refresh() -> None:
    """Re-read the words of active products' titles into catalog_search_word. Concurrently, so
    searches go on reading the old words meanwhile; nothing to do on the embedded SQLite, which
    offers no corrections."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY catalog_search_word")
            # Corrections are kept per catalogue version (migration 0006): new words move it on,
            # as a product's change does, and this transaction keeps nothing it reads until then.
            cursor.execute(
                "SELECT set_config('catalog.changed', 'on', true);"
                " UPDATE catalog_version SET number = number + 1 WHERE id = 1"
            )
