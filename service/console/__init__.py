"""The moderator console: server-rendered pages over the same storage as the API."""
