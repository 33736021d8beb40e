"""The neutral pipeline model: pydantic classes, loading, validation, templates, graph."""
