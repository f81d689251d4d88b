"""One module per screen; `base.Screen` is what they share."""
