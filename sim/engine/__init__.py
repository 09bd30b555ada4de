"""The simulation engine: time and events, queues and servers, random streams."""
