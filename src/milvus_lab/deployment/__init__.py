"""Lab 01's domain: the production objects for Milvus + the search API, and how to verify them."""
