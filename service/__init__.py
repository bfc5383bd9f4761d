"""The FastAPI service: screening, the review queue, reports, the moderator console."""
