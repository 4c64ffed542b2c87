"""Repositories: the queries handlers use, each bound to one session (one transaction)."""
