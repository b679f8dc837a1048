"""A progress bar for management commands, quiet and ASCII when there is no terminal."""

from django.core.management.base import BaseCommand, OutputWrapper
from tqdm import tqdm


class _BarStream:
    """tqdm writes partial lines; Django's OutputWrapper would end each write with a newline."""

    def __init__(self, wrapper: OutputWrapper) -> None:
        self._wrapper = wrapper

    @property
    def encoding(self) -> str | None:
        return getattr(self._wrapper, "encoding", None)

    def write(self, text: str) -> None:
        self._wrapper.write(text, style_func=lambda plain: plain, ending="")

    def flush(self) -> None:
        self._wrapper.flush()

    def isatty(self) -> bool:
        return self._wrapper.isatty()


def progress_bar(command: BaseCommand, *, total: int | None, desc: str, unit: str = "product") -> tqdm:
    """A tqdm bar on the command's stderr; without a terminal (CI, cron, pipes) it redraws rarely, in ASCII."""
    interactive = command.stderr.isatty()
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=_BarStream(command.stderr),
        disable=False,
        ascii=not interactive,
        dynamic_ncols=interactive,
        ncols=None if interactive else 80,
        mininterval=0.1 if interactive else 5.0,
    )


def advancing(bar: tqdm):
    """A progress callback for work that learns its total as it goes: (done since last call, total)."""

    def advance(done: int, total: int | None) -> None:
        bar.total = total
        bar.update(done)

    return advance
