"""Each segments test reads the definitions it made, never a process copy of an earlier test's."""

import pytest

from segments.services import catalogue_forget


@pytest.fixture(autouse=True)
def _fresh_definitions():
    catalogue_forget()
    yield
    catalogue_forget()
