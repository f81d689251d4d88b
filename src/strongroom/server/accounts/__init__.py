"""Users, security groups and their members, and feature access."""
