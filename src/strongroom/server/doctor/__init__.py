"""The troubleshooter: why a phone cannot connect or sync."""
