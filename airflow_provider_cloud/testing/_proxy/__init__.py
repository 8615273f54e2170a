"""The network-conditions proxy's parts: HTTP/1.1 messages, fault decisions, the link's pace, the server."""
