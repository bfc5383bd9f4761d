"""The storage layer: SQLAlchemy tables, Alembic migrations and keyword-only CRUD.

The service and the training pipeline both read and write through here (training never imports ``service``).
"""
