"""A migration step that runs its SQL on Postgres only (the embedded SQLite has no triggers, GIN or pg_trgm)."""

from django.db import migrations


def postgres_only(forward: str, backward: str) -> migrations.RunPython:
    def run(sql: str):
        def apply(apps, schema_editor):
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.execute(sql)

        return apply

    return migrations.RunPython(run(forward), run(backward))
