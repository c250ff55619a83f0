"""Persistence: SQLAlchemy 2 models, alembic migrations, and the operations the service needs.

A SQLite file is the embedded default; PostgreSQL is chosen by URL (``SUANWANG_DATABASE_URL``).
"""
