"""Typo-forgiving search: the pg_trgm extension, a trigram index on product titles, and the
catalogue's words with trigram index that corrections are looked up in (Postgres only)."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

from ._postgres import postgres_only

# The title index serves the type-ahead's ILIKE on titles (pg_trgm folds case itself). The words
# are a materialized view: splitting 3,000 titles at each query took 60 ms, its index 1 ms; it is
# refreshed by shop.catalog.services.search.search_words_refresh (beat, and after bulk loads).
FORWARD = """
CREATE INDEX IF NOT EXISTS catalog_product_title_trgm ON catalog_product USING gin (title gin_trgm_ops);
CREATE MATERIALIZED VIEW catalog_search_word AS
  SELECT word, count(DISTINCT p.id) AS products
  FROM catalog_product p CROSS JOIN LATERAL regexp_split_to_table(lower(p.title), '[^[:alnum:]]+') AS word
  WHERE p.is_active AND length(word) >= 3
  GROUP BY word;
CREATE UNIQUE INDEX catalog_search_word_word ON catalog_search_word (word);
CREATE INDEX catalog_search_word_trgm ON catalog_search_word USING gin (word gin_trgm_ops);
"""
BACKWARD = """
DROP MATERIALIZED VIEW IF EXISTS catalog_search_word;
DROP INDEX IF EXISTS catalog_product_title_trgm;
"""


class Migration(migrations.Migration):
    dependencies = [("catalog", "0003_review")]

    # TrigramExtension does nothing on other databases, as the embedded SQLite needs; pg_trgm is
    # a trusted extension, so the database's owner may create it without being a superuser.
    operations = [
        TrigramExtension(),
        postgres_only(FORWARD, BACKWARD),
    ]
