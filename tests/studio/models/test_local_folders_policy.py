"""--no-local-models (and the public policy, which sets it) holds at every place a name becomes a model: a run's
base, a paraphrase generator, the augmentation preview's base, the data check's tokenizer."""

from __future__ import annotations

import pandas as pd
import pytest

from studio import augment, models
from studio.base.errors import ConfigError, ModelError
from studio.config import RunConfig
from studio.tasks import get_task
from tests.support import tiny_config


@pytest.fixture
def no_local_models(monkeypatch):
    monkeypatch.setenv("STUDIO_ALLOW_LOCAL_MODELS", "0")


def test_every_resolve_honours_the_operators_choice(no_local_models, tiny_bert, separable_csv):
    with pytest.raises(ModelError, match="Local model folders are disabled"):
        models.resolve(str(tiny_bert))
    assert models.resolve(str(tiny_bert), allow_local=True)  # a finished run's own base, checked when it began
    raw = tiny_config(tiny_bert, separable_csv)
    raw["augment"] = {"copies": 1, "operations": "paraphrase", "generator": str(tiny_bert)}
    with pytest.raises(ConfigError, match="augment.generator: .*Local model folders are disabled"):
        augment.check_generator(RunConfig.from_dict(raw).augment, get_task("text-classification"))
    cfg = RunConfig.from_dict({**tiny_config(tiny_bert, separable_csv), "augment": {"copies": 1}})
    train = pd.read_csv(separable_csv).head(6)
    with pytest.raises(ModelError, match="Local model folders are disabled"):
        augment.preview(cfg, train)
