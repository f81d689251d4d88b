"""Import and export of password data: pure parsers, no database."""
