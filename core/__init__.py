"""Shared infrastructure: settings, database, logging, Temporal client, auth."""
