"""Checking the model against queueing theory."""
