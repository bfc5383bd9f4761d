"""How a bundle is logged to MLflow: a pyfunc model (usable from MLflow tooling) with a signature, registered
under the service's model name. Serving never needs this: it downloads the bundle (``storage.model_store``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class BundleModel:
    """A pyfunc wrapper so the registered model is usable from MLflow tooling too (``mlflow.pyfunc``)."""

    def load_context(self, context: Any) -> None:
        from models.classifier import TorchClassifier

        self.classifier = TorchClassifier(Path(context.artifacts["bundle"]))  # a CareScreen bundle dir

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        import pandas as pd

        texts = list(model_input["text"]) if hasattr(model_input, "columns") else list(model_input)
        from models.taxonomy import CATEGORIES

        return pd.DataFrame(self.classifier.predict_proba(texts), columns=list(CATEGORIES))


def log_bundle(bundle_dir: Path, *, registered_name: str, example_probs: Any) -> str:
    """Log the bundle as a pyfunc model with a signature and register it; returns the new version number."""
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature
    from mlflow.pyfunc import PythonModel

    from models.taxonomy import CATEGORIES

    wrapper = type("CareScreenClassifier", (BundleModel, PythonModel), {})()
    signature = infer_signature(
        pd.DataFrame({"text": ["example post"]}), pd.DataFrame(example_probs[:1], columns=list(CATEGORIES))
    )
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=wrapper,
        artifacts={"bundle": str(bundle_dir)},
        signature=signature,
        registered_model_name=registered_name,
        pip_requirements=["carescreen"],
    )
    return str(info.registered_model_version)
