"""Package data: the province tables."""
