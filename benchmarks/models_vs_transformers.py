"""ftcli's own model classes vs transformers' on the same weights: forward and forward+backward
throughput, side by side in one process.

    python benchmarks/models_vs_transformers.py                      # float32 (+ bf16 where the CPU has it)
    python benchmarks/models_vs_transformers.py --dtypes float32,bfloat16 --repeats 20
    python benchmarks/models_vs_transformers.py --device cuda --dtypes float32,bfloat16

Each architecture is built from one small random config (hidden 256, 4 layers, 4 heads; ViT on
224x224 images with 32x32 patches), transformers' class first, its state dict copied into ours, and
runs its sequence (or image) classification head. Batches of 32 rows of 128 tokens (half the rows
with their last fifth padded) or 32 images. Timings alternate ours / theirs, after a warm-up; the
fastest of `--repeats` runs (the least disturbed by the rest of the machine) is reported with the
ratio (transformers' time / ours: above 1.0 means ours is faster).

Where ours is faster, it is from doing less work, not from other arithmetic: a classification head
reads one position per row, so our last layer runs its query, attention output and feed-forward at
that position only (ftcli.models.attention; logits, loss and gradients are unchanged, which
tests/unit/test_last_layer_shortcut.py checks). Every other layer runs the same operations as
transformers'.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import torch

WIDTH = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024)


def configs():
    import transformers

    return {
        "bert": (transformers.BertConfig(vocab_size=1000, max_position_embeddings=512, **WIDTH),
                 "BertForSequenceClassification"),
        "gpt2": (transformers.GPT2Config(vocab_size=1000, n_embd=256, n_layer=4, n_head=4, n_positions=512,
                                         pad_token_id=0, bos_token_id=1, eos_token_id=2), "GPT2ForSequenceClassification"),
        "albert": (transformers.AlbertConfig(vocab_size=1000, embedding_size=128, max_position_embeddings=512,
                                             **WIDTH), "AlbertForSequenceClassification"),
        "distilbert": (transformers.DistilBertConfig(vocab_size=1000, dim=256, n_layers=4, n_heads=4, hidden_dim=1024,
                                                     max_position_embeddings=512), "DistilBertForSequenceClassification"),
        "vit": (transformers.ViTConfig(image_size=224, patch_size=32, **WIDTH), "ViTForImageClassification"),
    }


def make_pair(model_type: str):
    import transformers

    from ftcli.models.registry import architectures

    config, class_name = configs()[model_type]
    config.num_labels = 2
    config.hidden_dropout_prob = config.attention_probs_dropout_prob = 0.0
    torch.manual_seed(0)
    theirs = getattr(transformers, class_name)(config)
    ours_class = architectures()[model_type].auto_classes[
        "AutoModelForImageClassification" if model_type == "vit" else "AutoModelForSequenceClassification"]
    ours = ours_class(architectures()[model_type].config_class(**config.to_dict()))
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs


def make_batch(model_type: str, batch: int, length: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    labels = torch.randint(0, 2, (batch,))
    if model_type == "vit":
        return {"pixel_values": torch.randn(batch, 3, 224, 224), "labels": labels}
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[: batch // 2, -length // 5:] = 0  # half the rows padded by a fifth
    input_ids = torch.randint(1, 1000, (batch, length)).masked_fill(mask == 0, 0)
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def time_step(model, batch, backward: bool, dtype: torch.dtype) -> float:
    device = next(model.parameters()).device
    start = time.perf_counter()
    with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
        if backward:
            model(**batch).loss.backward()
        else:
            with torch.no_grad():
                model(**batch)
    if backward:
        model.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def measure(model_type: str, dtype: torch.dtype, repeats: int, batch_size: int, length: int,
            device: str = "cpu") -> dict[str, float]:
    ours, theirs = (model.to(device) for model in make_pair(model_type))
    batch = {k: v.to(device) for k, v in make_batch(model_type, batch_size, length).items()}
    result = {}
    for backward in (False, True):
        for model in (ours, theirs):
            model.train(backward)
            time_step(model, batch, backward, dtype)  # warm-up
        times = {"ours": [], "theirs": []}
        for _ in range(repeats):  # alternate, so both see the same machine state
            times["ours"].append(time_step(ours, batch, backward, dtype))
            times["theirs"].append(time_step(theirs, batch, backward, dtype))
        mode = "forward+backward" if backward else "forward"
        result[mode] = min(times["theirs"]) / min(times["ours"])
        result[f"{mode} ours s"] = min(times["ours"])
    return result


def main() -> int:
    from ftcli.precision import cpu_bf16

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # bf16 only where the CPU computes it natively (AVX-512 BF16 or AMX); on AVX2 it is emulated,
    # ~25x slower than float32, and says nothing about either implementation.
    parser.add_argument("--dtypes", default="float32,bfloat16" if cpu_bf16() else "float32")
    parser.add_argument("--models", default="bert,gpt2,albert,distilbert,vit")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--device", default="cpu", help="cpu (the target) or cuda")
    args = parser.parse_args()

    cpu = f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()}"
    if args.device == "cuda":
        cpu += f"; GPU {torch.cuda.get_device_name()}"
    print(f"CPU: {cpu}, {torch.get_num_threads()} threads; torch {torch.__version__}; batch {args.batch_size}, "
          f"length {args.length} (images 224x224); ratio = transformers' time / ftcli's (> 1: ftcli faster)")
    print(f"{'model':<12}{'dtype':<10}{'forward':>10}{'fwd+bwd':>10}{'ours fwd s':>12}{'ours f+b s':>12}", flush=True)
    worst = float("inf")
    for dtype_name in args.dtypes.split(","):
        dtype = getattr(torch, dtype_name)
        for model_type in args.models.split(","):
            r = measure(model_type, dtype, args.repeats, args.batch_size, args.length, args.device)
            worst = min(worst, r["forward"], r["forward+backward"])
            print(f"{model_type:<12}{dtype_name:<10}{r['forward']:>9.2f}x{r['forward+backward']:>9.2f}x"
                  f"{r['forward ours s']:>12.3f}{r['forward+backward ours s']:>12.3f}", flush=True)
    print(f"\nlowest ratio: {worst:.2f}x ({'OK' if worst >= 1.0 else 'BELOW TARGET'}: target >= 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
