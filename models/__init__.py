"""Pure ML code (no web, no database): classifier, PII redactor, screening pipeline."""
