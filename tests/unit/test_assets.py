"""Model resolution: aliases, checkpoint directories, and clear errors for the rest."""

import pytest

from ftcli import assets
from ftcli.errors import UserError


def test_unknown_alias():
    with pytest.raises(UserError, match="unknown model 'no-such-model'.*minilm"):
        assets.resolve_model("no-such-model")


def test_directory_without_config(tmp_path):
    with pytest.raises(UserError, match="has no config.json"):
        assets.resolve_model(str(tmp_path))


def test_checkpoint_directory_passes(tiny_bert):
    assert assets.resolve_model(str(tiny_bert)) == str(tiny_bert)


def test_hub_id_is_passed_on(monkeypatch):
    """Online (no HF_HUB_OFFLINE), a Hub id goes on to transformers; offline it must be in the Hub cache
    (tests/cli/test_grammar.py checks that message)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    assert assets.resolve_model("someone/some-model") == "someone/some-model"
