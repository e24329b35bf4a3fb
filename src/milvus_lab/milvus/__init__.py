"""Milvus itself: the server lifecycle, datasets with ground truth, collections and aliases."""
