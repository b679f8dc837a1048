"""The registry of recommender algorithms by name; each module registers its classes."""

from importlib import import_module

from .base import Recommender

# Every algorithm module; importing one registers its classes.
MODULES = (
    "personalization.recommenders.popularity",
    "personalization.recommenders.itemknn",
    "personalization.recommenders.userknn",
    "personalization.recommenders.surprise_models",
    "personalization.recommenders.content",
    "personalization.recommenders.session",
    "personalization.recommenders.hybrid",
    "personalization.recommenders.linear",
    "personalization.recommenders.sessionknn",
    "personalization.recommenders.factorization",
    "personalization.recommenders.ensemble",
)

_ALGORITHMS: dict[str, type[Recommender]] = {}


def register(cls: type[Recommender]) -> type[Recommender]:
    if cls.name in _ALGORITHMS and _ALGORITHMS[cls.name] is not cls:
        raise ValueError(f"two recommenders are named {cls.name!r}")
    _ALGORITHMS[cls.name] = cls
    return cls


def _load() -> None:
    for module in MODULES:
        import_module(module)


def algorithms() -> dict[str, type[Recommender]]:
    _load()
    return dict(sorted(_ALGORITHMS.items()))


def algorithm(name: str) -> type[Recommender]:
    found = algorithms().get(name)
    if found is None:
        raise KeyError(f"no recommender is named {name!r}; known: {', '.join(algorithms())}")
    return found
