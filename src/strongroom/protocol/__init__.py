"""Wire schemas between the App Server and devices, versioned.

Shared by both sides; imports nothing else of Strongroom. `PROTOCOL_VERSION`
is what this code speaks; servers refuse clients below `MIN_PROTOCOL_VERSION`.
"""

PROTOCOL_VERSION = 1
MIN_PROTOCOL_VERSION = 1
