"""API-side services: what the routes need beyond the storage repositories (no parallel storage layer)."""
