"""Metrics, benchmarks and reports: how we know the models and the service are good enough."""
