"""What every server feature shares: configuration, database, errors, keys."""
