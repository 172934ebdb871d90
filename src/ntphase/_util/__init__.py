"""Private helpers shared by every layer: argument validation, the memory guard,
the array-namespace seam and atomic file writes. Nothing scientific lives here."""

__all__: list[str] = []
