"""Users with a unique email and a login by email, on a key that is neither: the lookups example."""
