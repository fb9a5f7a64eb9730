"""The access model: organisation tree, principals, grants -> permission checks."""
