"""Keeps Product.search_vector current with a trigger, and indexes it with GIN (Postgres only)."""

from django.db import migrations

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


def _on_postgres(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(_on_postgres(FORWARD), _on_postgres(BACKWARD))]
