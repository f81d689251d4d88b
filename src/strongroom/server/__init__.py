"""The server side: features (accounts, vault, mobile, audit, settings,
interchange, doctor) and the delivery layers on top (web, appserver, cli)."""
