"""Lesson and announcement broadcasts: composing helpers, timing and the delivery worker."""
