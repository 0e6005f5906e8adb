"""ftcli prompt vs lm-evaluation-harness: SmolLM2 rank classification on rt-sentiment, 0 and 4 shots.

    python benchmarks/prompt_vs_lm_eval.py                 # 500 test rows, 0 and 4 shots
    python benchmarks/prompt_vs_lm_eval.py --rows 2000

Both tools score the same rows with the same prompt ("Review: ...\\nSentiment:" and the label
words " negative" / " positive", demonstrations separated by a blank line, no chat template),
the same four demonstrations in the same order (drawn by ftcli's seed from the training split;
lm-eval reads them as a local task's few-shot split with the `first_n` sampler), batch size 8,
float32. Each tool runs as its own process and is timed end to end (start-up, model load,
scoring). Prints both accuracies, both times and the speed-up; after a zero-shot run, the
floating-point work of the prompts and the fastest ftcli could be at this machine's matmul rate.
Needs lm-eval: `pip install -e ".[bench]"`.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import cpu_name  # also sets the offline environment

LABELS = ["negative", "positive"]
TASK_YAML = """task: ftcli_rt_sentiment
dataset_path: json
dataset_kwargs:
  data_files:
    test: {test}
    train: {fewshot}
test_split: test
fewshot_split: train
fewshot_config:
  sampler: first_n
output_type: multiple_choice
doc_to_text: "Review: {{{{text}}}}\\nSentiment:"
doc_to_choice: ["negative", "positive"]
doc_to_target: label_id
target_delimiter: " "
fewshot_delimiter: "\\n\\n"
metric_list:
  - metric: acc
"""


def prepare(folder: Path, rows: int, seed: int, shots: int) -> tuple[Path, Path]:
    """test.jsonl (the evaluated rows) and fewshot.jsonl (ftcli's demonstrations, in its order)."""
    from ftcli.data.sources import load_splits
    from ftcli.prompting.demos import draw, exclude_evaluated
    from ftcli.prompting.rows import canonical_rows, row_key

    splits = load_splits("rt-sentiment", None, 0.1, seed, None, rows)
    columns = {"text": "text", "label": "label"}
    test_rows = canonical_rows(splits.eval, columns)
    pool = exclude_evaluated(canonical_rows(splits.train, columns), test_rows, row_key)
    demos = draw(pool, shots, random.Random(seed))  # what `ftcli prompt --seed` draws
    demos = demos or pool[:1]  # lm-eval wants a non-empty few-shot split even at 0 shots (unused)
    test, fewshot = folder / "test.jsonl", folder / "fewshot.jsonl"
    for path, items in ((test, test_rows), (fewshot, demos)):
        path.write_text("".join(json.dumps({**r, "label_id": LABELS.index(r["label"])}) + "\n" for r in items))
    return test, fewshot


# lm-eval shows the same demonstrations in the same order to every query and has no calibration:
# ftcli is run the same way (its defaults balance the labels, shuffle the order per query and
# calibrate; `in_context_quality.py` measures those).
PARITY = ["--set", "prompt.balanced=false", "--set", "prompt.order=fixed", "--set", "prompt.calibrate=none"]


def run_ftcli(test: Path, shots: int, seed: int, batch_size: int, folder: Path, precision: str = "no") -> dict:
    output = folder / f"ftcli-{shots}.json"
    command = [sys.executable, "-m", "ftcli", "prompt", "classification", "--model", "smollm2", "--data", str(test),
               "--demos", "rt-sentiment", "--shots", str(shots), "--seed", str(seed), "--batch-size", str(batch_size),
               "--set", "prompt.chat_template=false", *PARITY, "--mixed-precision", precision, "--output", str(output)]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    result = json.loads(output.read_text())
    return {"accuracy": result["metrics"]["accuracy"], "seconds": wall, "scoring": result["metrics"]["seconds"],
            "precision": result["mixed_precision"], "reason": result["mixed_precision_reason"],
            "prompt": result["examples"][0]["prompt"], "prompts": [e["prompt"] for e in result["examples"]]}


def run_lm_eval(folder: Path, shots: int, batch_size: int) -> dict:
    from ftcli import assets

    output = folder / f"lm-eval-{shots}"
    command = [sys.executable, "-m", "lm_eval", "--model", "hf",
               "--model_args", f"pretrained={assets.resolve_model('smollm2')},dtype=float32",
               "--tasks", "ftcli_rt_sentiment", "--include_path", str(folder), "--num_fewshot", str(shots),
               "--batch_size", str(batch_size), "--device", "cpu", "--output_path", str(output), "--log_samples"]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    results = json.loads(next(output.rglob("results_*.json")).read_text())
    samples = [json.loads(line) for line in next(output.rglob("samples_*.jsonl")).read_text().splitlines()]
    return {"accuracy": results["results"]["ftcli_rt_sentiment"]["acc,none"], "seconds": wall,
            "prompt": samples[0]["arguments"]["gen_args_0"]["arg_0"] if samples else None}


def compute_floor(ours: dict, theirs: dict) -> None:
    """Why the zero-shot speed-up is bounded on this machine: with no shared prefix, ftcli and
    lm-eval run the same forward pass over every prompt token, and that pass is matrix multiplies.
    Prints the floating-point work, the rate ftcli reached, this CPU's float32 matmul rate at a
    large size, and the speed-up ftcli would reach if scoring ran at that rate with no overhead."""
    import torch
    from transformers import AutoConfig, AutoTokenizer

    from ftcli import assets

    checkpoint = assets.resolve_model("smollm2")
    config = AutoConfig.from_pretrained(checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    tokens = sum(len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in ours["prompts"])
    hidden, inner, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    kv = config.num_key_value_heads * (hidden // config.num_attention_heads)
    per_token = 2 * layers * (2 * hidden * hidden + 2 * hidden * kv + 3 * hidden * inner)  # q, o, k, v, MLP
    work = tokens * per_token
    a, b = torch.randn(1024, hidden), torch.randn(inner, hidden)
    for _ in range(3):
        a @ b.T
    start, repeats = time.perf_counter(), 50
    for _ in range(repeats):
        a @ b.T
    peak = 2 * 1024 * hidden * inner * repeats / (time.perf_counter() - start)
    startup = ours["seconds"] - ours["scoring"]
    best = startup + work / peak
    print(f"\n0-shot compute: {tokens} prompt tokens x {per_token / 1e6:.0f} MFLOP = {work / 1e12:.2f} TFLOP "
          f"(linear layers only; attention and the LM head add more)")
    print(f"  ftcli scoring {ours['scoring']:.1f} s = {work / ours['scoring'] / 1e9:.0f} GFLOP/s; "
          f"torch float32 matmul on this machine: {peak / 1e9:.0f} GFLOP/s")
    print(f"  ftcli at that matmul rate, with its {startup:.1f} s of start-up: {best:.1f} s, "
          f"a speed-up of at most {theirs['seconds'] / best:.2f}x over lm-eval's {theirs['seconds']:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--shots", type=int, nargs="+", default=[0, 4])
    args = parser.parse_args()
    from ftcli.precision import resolve_mixed_precision

    try:
        import lm_eval  # noqa: F401
    except ImportError:
        sys.exit('lm-eval is not installed: pip install -e ".[bench]"')

    print(f"CPU: {cpu_name()}; rt-sentiment, SmolLM2-135M, {args.rows} test rows, batch {args.batch_size}; "
          "lm-eval in float32, ftcli in float32 and at --mixed-precision auto\n")
    print(f"{'shots':>5}{'ftcli in':>10}{'ftcli acc':>11}{'lm-eval acc':>13}{'diff':>8}{'ftcli s':>9}{'lm-eval s':>11}{'speed-up':>10}")
    zero_shot = None
    automatic_precision, why = resolve_mixed_precision("auto")
    if automatic_precision == "no":
        print(f"ftcli --mixed-precision auto chooses float32 on this machine: {why}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for shots in args.shots:
            test, fewshot = prepare(folder, args.rows, args.seed, shots)
            (folder / "ftcli_rt_sentiment.yaml").write_text(TASK_YAML.format(test=test, fewshot=fewshot))
            ours = run_ftcli(test, shots, args.seed, args.batch_size, folder)
            theirs = run_lm_eval(folder, shots, args.batch_size)
            if theirs["prompt"] is not None and theirs["prompt"] != ours["prompt"]:
                print(f"  note: the first prompts differ:\n  ftcli:   {ours['prompt']!r}\n  lm-eval: {theirs['prompt']!r}")
            print(f"{shots:>5}{'float32':>10}{ours['accuracy']:>11.4f}{theirs['accuracy']:>13.4f}"
                  f"{100 * (ours['accuracy'] - theirs['accuracy']):>+7.2f}p{ours['seconds']:>9.1f}"
                  f"{theirs['seconds']:>11.1f}{theirs['seconds'] / ours['seconds']:>9.2f}x", flush=True)
            if automatic_precision != "no":  # auto chooses half precision here: its own row, lm-eval in float32
                automatic = run_ftcli(test, shots, args.seed, args.batch_size, folder, precision="auto")
                print(f"{shots:>5}{automatic['precision']:>10}{automatic['accuracy']:>11.4f}{theirs['accuracy']:>13.4f}"
                      f"{100 * (automatic['accuracy'] - theirs['accuracy']):>+7.2f}p{automatic['seconds']:>9.1f}"
                      f"{theirs['seconds']:>11.1f}{theirs['seconds'] / automatic['seconds']:>9.2f}x", flush=True)
            if shots == 0:
                zero_shot = ours, theirs
        if zero_shot:
            compute_floor(*zero_shot)


if __name__ == "__main__":
    main()
