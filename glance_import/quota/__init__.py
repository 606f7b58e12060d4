"""Per-project quotas: Keystone unified limits."""
