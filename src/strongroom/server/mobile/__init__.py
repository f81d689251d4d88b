"""Mobile credentials, paired devices, pairing and sync."""
