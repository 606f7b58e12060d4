"""Background upkeep of the image records and their data."""
