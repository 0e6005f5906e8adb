"""The pre-training objectives' statistics over many samples: BERT's masking shares, special tokens
never chosen, next-sentence and sentence-order pairs 50/50, NSP negatives from other documents."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from ftcli.config import PretrainConfig  # noqa: E402
from ftcli.objectives.masking import choose_tokens, mask_tokens  # noqa: E402
from ftcli.objectives.mlm import blocks  # noqa: E402
from ftcli.objectives.nsp_sop import build_pairs  # noqa: E402
from ftcli.tasks.base import IGNORE  # noqa: E402

MASK, VOCAB = 4, 1000


def sample_batch(rows=2000, length=64):
    torch.manual_seed(0)
    input_ids = torch.randint(10, VOCAB, (rows, length))
    special = torch.zeros(rows, length, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True  # [CLS] ... [SEP]
    attention = torch.ones(rows, length, dtype=torch.bool)
    attention[: rows // 2, -16:] = False  # padding
    return input_ids, special, attention


def test_masking_shares_match_bert():
    input_ids, special, attention = sample_batch()
    candidates = ~special & attention
    masked, labels = mask_tokens(input_ids, candidates, MASK, VOCAB, PretrainConfig())
    chosen = labels != IGNORE
    assert abs(chosen.sum().item() / candidates.sum().item() - 0.15) < 0.01
    assert not (chosen & ~candidates).any(), "special tokens and padding are never chosen"
    assert torch.equal(labels[chosen], input_ids[chosen])
    n = chosen.sum().item()
    to_mask = (masked == MASK) & chosen
    unchanged = (masked == input_ids) & chosen
    # A random replacement can draw the original id (1 in 1000): counted as unchanged, well inside 2%.
    randomised = chosen & ~to_mask & ~unchanged
    assert abs(to_mask.sum().item() / n - 0.8) < 0.02
    assert abs(randomised.sum().item() / n - 0.1) < 0.02
    assert abs(unchanged.sum().item() / n - 0.1) < 0.02
    assert torch.equal(masked[~chosen], input_ids[~chosen]), "tokens not chosen stay as they are"


def test_whole_word_masking_takes_every_sub_token_of_a_word():
    input_ids, special, attention = sample_batch(rows=500)
    word_start = torch.ones_like(input_ids)
    word_start[:, 2::3] = 0  # every third token continues the word before it
    chosen = choose_tokens(~special & attention, 0.15, word_start)
    continuation = (word_start == 0) & ~special & attention
    starts_of_continuations = torch.roll(chosen, 1, dims=1)
    assert torch.equal(chosen[continuation], starts_of_continuations[continuation])
    assert abs(chosen.sum().item() / (~special & attention).sum().item() - 0.15) < 0.01


def test_evaluation_masks_repeat_for_the_same_batch():
    from ftcli.objectives.base import Objective

    model = torch.nn.Linear(2, 2)
    model.config = None
    module = Objective(model).eval()
    ids = torch.randint(0, 100, (4, 16))
    a = torch.rand(4, 16, generator=module.rng(ids))
    b = torch.rand(4, 16, generator=module.rng(ids))
    assert torch.equal(a, b)
    assert module.train().rng(ids) is None  # training draws from the seeded global RNG


def documents(count=400, seed=0):
    """Documents of 3-12 sentences; every token of document d is 1000 + d, so a segment's origin is visible."""
    rng = np.random.RandomState(seed)
    return [[[1000 + d] * rng.randint(3, 15) for _ in range(rng.randint(3, 13))] for d in range(count)]


@pytest.mark.parametrize("kind", ["nsp", "sop"])
def test_pairs_are_half_and_half(kind):
    docs = documents(count=8000)
    pairs = build_pairs(docs, 61, np.random.RandomState(1), kind, 0.5)
    labels = np.array([label for _, _, label in pairs])
    assert len(pairs) > 10000  # a 2% band is more than 4 standard errors
    assert abs(labels.mean() - 0.5) < 0.02
    assert all(a and b and len(a) + len(b) <= 61 for a, b, _ in pairs)


def test_nsp_negatives_come_from_another_document_and_positives_from_the_same():
    pairs = build_pairs(documents(), 61, np.random.RandomState(2), "nsp", 0.5)
    for a, b, label in pairs:
        assert len(set(a)) == 1 and len(set(b)) == 1
        assert (a[0] != b[0]) == bool(label)


def test_nsp_negative_documents_are_uniform_over_the_others_and_skip_empty_ones():
    from ftcli.objectives.nsp_sop import _other_document

    usable = [0, 2, 3, 7, 9]  # documents 1, 4-6 and 8 are empty
    rng = np.random.RandomState(4)
    for d in (0, 3, 9, 5):  # first, middle, last, and one that is not usable itself
        draws = [_other_document(usable, d, rng) for _ in range(4000)]
        others = [o for o in usable if o != d]
        counts = np.array([draws.count(o) for o in others])
        assert set(draws) == set(others)
        assert abs(counts / len(draws) - 1 / len(others)).max() < 0.03  # > 4 standard errors


def test_sop_pairs_are_consecutive_segments_swapped_when_labelled():
    # Within a document tokens count up, so order is visible: swapped pairs have A after B.
    docs = [[[d * 10000 + s * 100 + t for t in range(5)] for s in range(6)] for d in range(300)]
    pairs = build_pairs(docs, 40, np.random.RandomState(3), "sop", 0.5)
    for a, b, label in pairs:
        assert a[0] // 10000 == b[0] // 10000  # the same document
        assert (a[0] > b[0]) == bool(label)


def test_nsp_refuses_a_single_document():
    from ftcli.errors import UserError

    with pytest.raises(UserError, match="at least two documents"):
        build_pairs(documents(count=1), 61, np.random.RandomState(0), "nsp", 0.5)


def test_blocks_pack_documents_and_drop_a_short_tail():
    chunks, _, total = blocks([[1, 2, 3], [4, 5]], None, [9], 3)
    assert total == 7 and chunks == [[1, 2, 3], [9, 4, 5]]  # the tail [9] is under half a block
    chunks, _, _ = blocks([[1, 2, 3, 4]], None, [], 3)
    assert chunks == [[1, 2, 3]]
