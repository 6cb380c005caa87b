"""stancetag: tag news sentences on U.S.-China relations with topics and a tone."""

__version__ = "0.1.0"
