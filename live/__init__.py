"""The live channel: tracker batches over a WebSocket, and pushes to the visitor's open pages."""
