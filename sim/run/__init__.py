"""One run: the guard that sizes it, the model that wires and runs it, the API."""
