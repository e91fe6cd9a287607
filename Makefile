# The two commands a newcomer needs (each sets up .venv on first use):
#   make report   the main job: attack the pretrained digits defence, print the table, write reports/digits.html
#                 (make report DATASET=fashion-mnist: the same on Fashion-MNIST)
#   make test     the test suite (what CI runs)
# Also: make lessons (JupyterLab on lessons/), make train (retrain the digits models from scratch),
#       make benchmarks, make book, make course (student and instructor notebooks in build/course).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# PyTorch pinned to the build this project is tested with; override e.g. `make test TORCH="torch torchvision"`.
TORCH ?= torch==2.14.1 torchvision==0.29.1
DATASET ?= digits

.PHONY: report test lessons execute-lessons lessons-avx2 course train benchmarks book clean-venv

$(BIN)/snnlab: pyproject.toml
	@# Fashion-MNIST offline from Debian's package, where apt-get exists (snnlab.load_dataset reads it in place)
	@[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || ! command -v apt-get >/dev/null || \
	  { SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; $$SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null || \
	    echo "note: could not apt-get install dataset-fashion-mnist; Fashion-MNIST needs download=True online"; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

report: $(BIN)/snnlab
	$(BIN)/snnlab report --dataset $(DATASET)

test: $(BIN)/snnlab
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lessons: $(BIN)/snnlab
	$(BIN)/jupyter lab lessons/

train: $(BIN)/snnlab
	$(BIN)/snnlab train --dataset digits --seed 0 --out runs/digits

execute-lessons: $(BIN)/snnlab
	$(BIN)/python book/execute_lessons.py

# The lessons' checked outputs must not depend on the processor: PyTorch's CPU kernels (its own, and oneDNN's
# convolutions) sum in another order with AVX-512 than with AVX2, which moves an image in a live attack. After
# `make execute-lessons` on an AVX-512 machine, this runs the lessons under nbval as an AVX2-only machine would
# (its own compile cache: kernels compiled for AVX-512 and reused under AVX2 gave NaNs).
lessons-avx2: $(BIN)/snnlab
	ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 TORCHINDUCTOR_CACHE_DIR=/tmp/snnlab-inductor-avx2 \
	  $(BIN)/python -m pytest -q lessons/

course: $(BIN)/snnlab
	$(BIN)/python book/build_course.py --execute

book: $(BIN)/snnlab
	$(BIN)/python book/build.py

benchmarks: $(BIN)/snnlab
	$(BIN)/python benchmarks/neuron_speed.py
	$(BIN)/python benchmarks/defense_throughput.py
	$(BIN)/python benchmarks/train_time.py
	$(BIN)/python benchmarks/adaptive_evaluation.py
	$(BIN)/python benchmarks/ensemble_evaluation.py
	$(BIN)/python benchmarks/surrogate_sweep.py
	$(BIN)/python benchmarks/efficiency.py
	$(BIN)/python benchmarks/ablation.py

clean-venv:
	rm -rf $(VENV)
