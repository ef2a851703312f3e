"""The bank simulator: its own FastAPI app (card batches, activations, payouts)."""
