"""Celery tasks of the catalog; each calls a service."""

from celery import shared_task

from .services.search import search_words_refresh


@shared_task(time_limit=300, soft_time_limit=270)
def search_words_refresh_task() -> None:
    search_words_refresh()
