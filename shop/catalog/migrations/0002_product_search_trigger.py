"""Keeps Product.search_vector current with a trigger, and indexes it with GIN (Postgres only)."""

from django.db import migrations

from ._postgres import postgres_only

FORWARD = """
CREATE OR REPLACE FUNCTION catalog_product_search_vector() RETURNS trigger AS $$
BEGIN
  NEW.search_vector :=
    setweight(to_tsvector('pg_catalog.english', coalesce(NEW.title, '')), 'A') ||
    setweight(to_tsvector('pg_catalog.simple', coalesce(NEW.sku, '')), 'A') ||
    setweight(to_tsvector('pg_catalog.english', coalesce(
      (SELECT string_agg(value, ' ') FROM jsonb_each_text(NEW.attributes)), '')), 'B') ||
    setweight(to_tsvector('pg_catalog.english', coalesce(NEW.description, '')), 'C');
  RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER catalog_product_search_vector_update
BEFORE INSERT OR UPDATE OF title, sku, attributes, description ON catalog_product
FOR EACH ROW EXECUTE FUNCTION catalog_product_search_vector();

CREATE INDEX catalog_product_search_gin ON catalog_product USING gin (search_vector);

UPDATE catalog_product SET title = title;
"""

BACKWARD = """
DROP INDEX IF EXISTS catalog_product_search_gin;
DROP TRIGGER IF EXISTS catalog_product_search_vector_update ON catalog_product;
DROP FUNCTION IF EXISTS catalog_product_search_vector();
"""


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [postgres_only(FORWARD, BACKWARD)]
