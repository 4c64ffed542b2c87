"""Loading, validating and serving the YAML content under ``content/``."""
