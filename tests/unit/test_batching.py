"""Little padding, same results: length-grouped training order (a permutation that depends on (seed, epoch)
only) and length-sorted evaluation whose results come back in input order."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import random  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from accelerate import Accelerator  # noqa: E402
from datasets import Dataset  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402
from transformers import DataCollatorWithPadding, PreTrainedTokenizerFast  # noqa: E402

from ftcli.batching import LengthGroupedSampler, in_input_order, length_sorted_loader  # noqa: E402
from ftcli.evaluation import collect_outputs  # noqa: E402
from ftcli.models.bert import BertConfig, BertForSequenceClassification  # noqa: E402
from ftcli.models.outputs import enable_packing  # noqa: E402
from ftcli.tasks.classification import ClassificationTask  # noqa: E402

_rng = random.Random(0)
LENGTHS = [_rng.randint(2, 60) for _ in range(1000)]


def order(seed: int, epoch: int, batch_size: int = 8, mega_batches: int = 10) -> list[int]:
    sampler = LengthGroupedSampler(LENGTHS, batch_size, seed, mega_batches)
    sampler.set_epoch(epoch)
    return list(sampler)


def padded_tokens(indices: list[int], batch_size: int = 8) -> int:
    batches = [indices[i:i + batch_size] for i in range(0, len(indices), batch_size)]
    return sum(len(b) * max(LENGTHS[i] for i in b) for b in batches)


def test_length_grouped_order_is_a_permutation_set_by_seed_and_epoch_only():
    first = order(seed=1, epoch=1)
    assert sorted(first) == list(range(len(LENGTHS)))
    assert order(seed=1, epoch=1) == first  # a fresh sampler (a resumed run) draws the same order
    assert order(seed=1, epoch=2) != first and order(seed=2, epoch=1) != first
    sampler = LengthGroupedSampler(LENGTHS, 8, 1, 10)
    sampler.set_epoch(2)
    list(sampler)
    sampler.set_epoch(1)  # no hidden state carried from an earlier epoch
    assert list(sampler) == first


def test_length_grouped_batches_carry_far_less_padding_and_stay_shuffled():
    grouped = order(seed=3, epoch=1)
    shuffled = list(range(len(LENGTHS)))
    random.Random(3).shuffle(shuffled)
    real = sum(LENGTHS)
    assert padded_tokens(grouped) - real < 0.2 * (padded_tokens(shuffled) - real)
    # Still random across the epoch: batch lengths do not simply descend.
    batch_maxima = [max(LENGTHS[i] for i in grouped[j:j + 8]) for j in range(0, len(grouped), 8)]
    assert batch_maxima != sorted(batch_maxima, reverse=True)


def test_only_the_last_batch_is_short():
    lengths = LENGTHS[:101]
    sampler = LengthGroupedSampler(lengths, 8, 0, 3)
    indices = list(sampler)
    assert sorted(indices) == list(range(101))
    # Batches are cut every 8 indices by the DataLoader: each full cut is one sorted group's batch.
    sizes = [len(b) for b in DataLoader(range(101), batch_size=8, sampler=sampler)]
    assert sizes == [8] * 12 + [5]


def test_in_input_order_inverts_the_loader_order():
    order_ = [3, 0, 2, 1]
    gathered = {"x": np.array([30, 0, 20, 10]), "y": np.array([[3], [0], [2], [1]])}
    back = in_input_order(gathered, order_)
    assert back["x"].tolist() == [0, 10, 20, 30] and back["y"][:, 0].tolist() == [0, 1, 2, 3]


def tiny_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[PAD]": 0, "[UNK]": 1, **{f"w{i}": i + 2 for i in range(40)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]")


def test_length_sorted_evaluation_returns_rows_in_input_order():
    rng = random.Random(5)
    tokenizer = tiny_tokenizer()
    texts = [" ".join(f"w{rng.randrange(40)}" for _ in range(rng.randint(1, 12))) for _ in range(37)]
    features = Dataset.from_dict(dict(tokenizer(texts), labels=[i % 3 for i in range(37)]))
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=42, hidden_size=32, num_hidden_layers=2,
                                                     num_attention_heads=4, intermediate_size=37, num_labels=3))
    collator, accelerator, task = DataCollatorWithPadding(tokenizer), Accelerator(cpu=True), ClassificationTask()

    sorted_loader = length_sorted_loader(features, 8, collator)
    assert sorted_loader.order != list(range(37))  # the rows really are reordered
    enable_packing(model)
    got = collect_outputs(model, sorted_loader, accelerator, task, order=sorted_loader.order).gathered
    # Reference: each row alone, no padding, in input order.
    enable_packing(model, False)
    model.eval()
    with torch.no_grad():
        alone = [model(input_ids=torch.tensor([row])).logits[0] for row in features["input_ids"]]
    assert got["labels"].tolist() == features["labels"]
    assert np.abs(got["logits"] - torch.stack(alone).numpy()).max() <= 1e-5


def test_grouping_is_off_by_default_and_auto_follows_the_loss():
    """Shuffled batches by default for every task (length grouping trades accuracy); `auto` (the former
    default) groups rows where the loss is a mean over rows and never where it is a mean over tokens."""
    from ftcli.config import TrainConfig
    from ftcli.tasks import get_task
    from ftcli.train_loader import groups_by_length as _groups_by_length

    for task_name, grouped in (("classification", True), ("qa", True), ("ner", False), ("generation", False)):
        assert _groups_by_length(TrainConfig(), get_task(task_name)) is False, task_name
        assert _groups_by_length(TrainConfig(group_by_length="auto"), get_task(task_name)) is grouped, task_name
    for forced in (True, False):
        assert _groups_by_length(TrainConfig(group_by_length=forced), get_task("ner")) is forced


def test_default_training_order_is_independent_of_length():
    """Over an epoch of the default training loader, a row's length says nothing about where it comes
    (rank correlation of position and length near 0) nor about its neighbours' lengths (rank correlation
    of consecutive rows' lengths near 0); length-grouped batches, for contrast, put rows of one length
    side by side."""
    from scipy.stats import spearmanr

    from ftcli.batching import token_lengths
    from ftcli.config import TrainConfig
    from ftcli.tasks import get_task
    from ftcli.train_loader import build_train_loader as _train_loader, groups_by_length as _groups_by_length

    rng = np.random.RandomState(0)
    row_lengths = rng.randint(5, 128, size=2000)
    features = Dataset.from_dict({"index": list(range(2000)), "input_ids": [[1] * n for n in row_lengths]})

    def epoch_order(config: TrainConfig) -> np.ndarray:
        lengths = token_lengths(features) if _groups_by_length(config, get_task("nli")) else None
        loader = _train_loader(features, lambda rows: [row["index"] for row in rows], config, lengths)
        return np.asarray([i for batch in loader for i in batch])

    for config, independent in ((TrainConfig(batch_size=32), True), (TrainConfig(batch_size=32, group_by_length=True), False)):
        order = epoch_order(config)
        assert sorted(order.tolist()) == list(range(2000))
        lengths = row_lengths[order]
        position_rho = spearmanr(np.arange(2000), lengths).statistic
        neighbour_rho = spearmanr(lengths[:-1], lengths[1:]).statistic
        if independent:
            assert abs(position_rho) < 0.1 and abs(neighbour_rho) < 0.1, (position_rho, neighbour_rho)
        else:
            assert neighbour_rho > 0.8, neighbour_rho


def test_grouped_per_token_losses_weigh_every_token_alike():
    """Grouped batches of a per-token loss are scaled by their tokens over the mean per batch, so a
    token in a batch of short rows weighs what a token in a batch of long rows does."""
    from ftcli.tasks import get_task
    from ftcli.train_loader import token_scale as _token_scale
    from ftcli.training import _token_weighted

    from ftcli.batching import token_lengths

    features = Dataset.from_dict({"input_ids": [[1] * 2] * 4 + [[1] * 6] * 4})  # batches of 4: 8 and 24 tokens
    lengths = token_lengths(features)
    scale = _token_scale(lengths, 2, get_task("ner"))
    assert scale == 16 and _token_scale(lengths, 2, get_task("classification")) is None
    assert _token_scale(None, 2, get_task("ner")) is None  # shuffled batches need no weighting
    short, long = {"attention_mask": torch.ones(4, 2)}, {"attention_mask": torch.ones(4, 6)}
    # Each batch's loss is a mean over its tokens; weighted, the sum over batches is the mean over all tokens
    # times the number of batches: per-token losses of 1 (short) and 3 (long) -> (8 * 1 + 24 * 3) / 16.
    total = _token_weighted(torch.tensor(1.0), short, scale) + _token_weighted(torch.tensor(3.0), long, scale)
    assert float(total) == (8 * 1 + 24 * 3) / 16
    assert float(_token_weighted(torch.tensor(2.0), short, None)) == 2.0
