-- Runs once, when the PostgreSQL volume is first created: the MLflow server's backend store beside the
-- service's own database (same server, separate database).
CREATE DATABASE mlflow;
