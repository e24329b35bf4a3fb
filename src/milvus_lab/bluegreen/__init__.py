"""Lab 03's domain: the releases it ships and the measurements its gates use."""
