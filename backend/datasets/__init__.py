"""Uploaded datasets: parsing, content-addressed storage, the catalog and the endpoints."""
