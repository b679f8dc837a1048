"""The catalogue's version: a number that every committed change to what a listing shows moves on (Postgres only).

Listings keep what is the same for every visitor (facets, counts, corrections, the products of a
page) per process under this number, so it must move on for any write, including updates that
bypass save() (a checkout's stock). A row trigger deferred to commit bumps it once per
transaction: taken last, just before the commit, its lock on the one row is held for no longer
than the commit and cannot join a deadlock with the product rows a checkout locks, and a reader
that sees the new number sees the change with it. A statement trigger marks the writing
transaction itself, which must not keep what it reads before it commits (catalog.changed).
"""

from django.db import migrations

from ._postgres import postgres_only

TABLES = ("catalog_department", "catalog_category", "catalog_brand", "catalog_product", "catalog_productimage")

FORWARD = """
CREATE TABLE catalog_version (
  id smallint PRIMARY KEY CHECK (id = 1),
  number bigint NOT NULL
);
-- From the clock, so a table made again never repeats a number a running process still keeps.
INSERT INTO catalog_version VALUES (1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint);

CREATE FUNCTION catalog_changed() RETURNS trigger AS $$
BEGIN
  PERFORM set_config('catalog.changed', 'on', true);
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION catalog_version_bump() RETURNS trigger AS $$
BEGIN
  IF current_setting('catalog.bumped', true) IS DISTINCT FROM 'on' THEN
    PERFORM set_config('catalog.bumped', 'on', true);
    UPDATE catalog_version SET number = number + 1 WHERE id = 1;
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;
""" + "".join(
    f"""
CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
FOR EACH STATEMENT EXECUTE FUNCTION catalog_changed();
CREATE CONSTRAINT TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE ON {table}
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION catalog_version_bump();
CREATE TRIGGER {table}_truncated AFTER TRUNCATE ON {table}
FOR EACH STATEMENT EXECUTE FUNCTION catalog_version_bump();
"""
    for table in TABLES
)

BACKWARD = "".join(
    f"""
DROP TRIGGER IF EXISTS {table}_changed ON {table};
DROP TRIGGER IF EXISTS {table}_version ON {table};
DROP TRIGGER IF EXISTS {table}_truncated ON {table};
"""
    for table in TABLES
) + """
DROP FUNCTION IF EXISTS catalog_version_bump();
DROP FUNCTION IF EXISTS catalog_changed();
DROP TABLE IF EXISTS catalog_version;
"""


class Migration(migrations.Migration):
    dependencies = [("catalog", "0005_reviews_wait_for_moderation")]

    operations = [postgres_only(FORWARD, BACKWARD)]
