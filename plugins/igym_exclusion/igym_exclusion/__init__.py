"""igym_exclusion: an igym plugin."""
