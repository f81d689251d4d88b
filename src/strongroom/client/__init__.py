"""The device: encrypted offline cache, unlock, sync and audited access.

Imports only `strongroom.crypto` and `strongroom.protocol` (an import-linter
contract keeps it so): a phone never carries the server. The API an app uses
is `Device` (locked) and `Vault` (unlocked) in `strongroom.client.device`;
errors are in `strongroom.client.errors`; `strongroom-mobile` is the CLI.
"""
