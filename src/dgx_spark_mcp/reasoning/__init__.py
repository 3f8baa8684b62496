"""Local reasoning: engines, redaction, and the ask pipeline (issue 6)."""
