#!/usr/bin/env bash
# The Fashion-MNIST runs of issue 20, in order, each resumable epoch by epoch: started again (in any
# session), this script skips what is finished and resumes what is not. Run it alone, in the background:
#   nohup partial/train_fashion_mnist.sh > /tmp/fm.log 2>&1 &
# and commit partial/fashion-mnist after each epoch lands. Beside another job, 2 cores slow down tenfold.
set -euo pipefail
cd "$(dirname "$0")/.."
SNNLAB=${SNNLAB:-.venv/bin/snnlab}
OUT=partial/fashion-mnist
# 1. the defence: classifier (finished), SNN purifier, transfer substitute, detector
"$SNNLAB" train --dataset fashion-mnist --seed 0 --classifier-epochs 15 --purifier-epochs 10 --out "$OUT"
# 2. the noise-trained classifier (Gaussian sigma 0.1, the eps of the headline), the classifier's schedule
"$SNNLAB" train-noise 0.1 --dataset fashion-mnist --seed 0 --epochs 15 --out "$OUT"
# 3. the adversarially trained classifier: PGD-3 at eps 0.1 (about 4x a plain epoch), 10 epochs, about the
#    compute of the purification route (15 classifier + 10 purifier epochs)
"$SNNLAB" train-adversarial 0.1 --steps 3 --dataset fashion-mnist --seed 0 --epochs 10 --out "$OUT"
