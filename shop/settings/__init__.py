"""Settings package: base holds every setting; local, test and production override."""
