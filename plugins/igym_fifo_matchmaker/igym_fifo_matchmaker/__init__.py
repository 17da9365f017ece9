"""igym_fifo_matchmaker: an igym plugin."""
