"""The admin command line, `strongroom`."""
