"""One reader module per import format; each returns an `ImportBundle`."""
