"""The `strongroom-mobile` command line."""
