"""One place for thread setup and for the tiny model sizes."""

import pytest
import torch

from collage.errors import ParameterError
from collage.models import runtime
from collage.models.latent_critic import TINY_SIZES, LatentActorConfig, LatentCriticConfig, join_configs
from collage.pretrained import tiny_model


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_set_threads_reads_the_environment(monkeypatch, restore_threads):
    monkeypatch.setenv(runtime.THREADS_ENV, "2")
    assert runtime.set_threads() == 2 and torch.get_num_threads() == 2
    assert runtime.set_threads(1) == 1 and torch.get_num_threads() == 1
    monkeypatch.delenv(runtime.THREADS_ENV)
    assert runtime.threads() == 1 and runtime.threads(0) == 1
    monkeypatch.setenv(runtime.THREADS_ENV, "many")
    with pytest.raises(ParameterError, match="COLLAGE_THREADS='many'"):
        runtime.set_threads()


def test_training_uses_the_runtime_setup():
    from collage.training import loop

    assert loop.set_threads is runtime.set_threads


def test_tiny_sizes_come_from_one_place():
    for config in (LatentCriticConfig.tiny(), LatentActorConfig.tiny()):
        assert {k: getattr(config, k) for k in TINY_SIZES} == TINY_SIZES
    critic, actor = join_configs(tiny_model("melody_vae"), tiny=True)
    assert {k: getattr(critic, k) for k in TINY_SIZES} == TINY_SIZES == {k: getattr(actor, k) for k in TINY_SIZES}
