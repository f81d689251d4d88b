"""Typed system settings stored in the database."""
