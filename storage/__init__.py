"""Persistence: SQLModel tables, sessions, queries and migrations. Knows nothing of Slack."""
