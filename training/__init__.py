"""Datasets -> fine-tuning -> MLflow. Never imports ``service``: moderator decisions come via ``storage``."""
