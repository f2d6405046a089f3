"""Plots and (later) memos: clients of results on disk; they never run the model."""
