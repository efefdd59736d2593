"""A study as one self-contained HTML file: GET /api/experiments/{id}/report."""
