"""Write the instructor notes page (book/teachers/instructor_notes.md) from the executed lessons.

    python book/make_teachers.py      # book/build.py runs it

Per lesson: its time and sections (read from the lesson), talking points and common mistakes
(written below, in words: no figures), and the expected outputs: what each exercise's solution
cell and each key-number cell (``NBVAL_CHECK_OUTPUT``) printed when the committed notebook was
executed. The figures are copied from the notebooks, never typed, so they cannot drift from what
the class will see.
"""
from __future__ import annotations

import glob
import os
import re

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
LESSONS = os.path.join(HERE, os.pardir, "lessons")
OUT = os.path.join(HERE, "teachers", "instructor_notes.md")

NOTES = {
    "01": {
        "talking": [
            "A spike is a step function: its derivative is zero almost everywhere, so training (and attacking) "
            "uses a surrogate gradient. Everything in lesson 6 about the attacker's choice of gradient starts here.",
            "snntorch neurons keep their membrane between calls; snnlab's helpers reset it inside each call.",
            "MLF's three windows tile the membrane axis: ask students to predict, before running the cell, which "
            "network keeps more neurons passing a gradient, and then why three levels reach less than the share "
            "the windows cover (the membranes carry charge over from earlier steps; the input is (T, N)).",
            "Section 4 is the students' first training run. The Think! prompt is the point: more gradient paths "
            "are an argument for depth, not a promise of a lower loss; and in the trained network more than half "
            "of the neurons are dormant even with three levels.",
        ],
        "mistakes": [
            "Exercise 1: subtracting this step's spike instead of the previous step's (the checker names it); "
            "using >= where snntorch uses > (strictly above).",
            "Exercise 2: reading the printed 1.20 as a rounding of 1.25; the float32 grid value is printed beside it.",
            "Exercise 3: forgetting that the 68% and 95% rules are the normal approximation's one and two "
            "standard deviations.",
        ],
    },
    "02": {
        "talking": [
            "Define the threat model before any number: the L-infinity ball, its radius in grey levels, and "
            "what the attacker knows.",
            "The attack uses the same surrogate gradient the network was trained with; the attacker may choose "
            "another (lesson 6).",
            "Exercise 2 is the first sanity check of the course: a fixed-step PGD that stops improving with more "
            "steps is a weak attack, not a robust model.",
        ],
        "mistakes": [
            "Exercise 1: not unpacking the tuple torch.autograd.grad returns (an AttributeError on .sign()), "
            "stepping along the gradient instead of its sign, stepping down the loss, or forgetting to clip to "
            "[0, 1]; the checker names each.",
            "Exercise 2: reading a two-point gap on 200 images as a difference; the cell's snnlab.compare lines "
            "say which gaps are more than noise.",
            "Reading the transfer curve as the model's robustness: it is one weak attacker.",
        ],
    },
    "03": {
        "talking": [
            "NeSNN estimates how much noise each pixel carries; the U-Net may remove at most that much.",
            "The asymmetric loss makes under-estimating noise the expensive error, because noise left behind is "
            "the attack surviving.",
        ],
        "mistakes": [
            "Exercise 1: the indicator the wrong way round (charging over-estimates 1 - alpha): the design note "
            "of the seed system itself once had it so; squaring forgotten; sum instead of mean.",
        ],
    },
    "04": {
        "talking": [
            "The purifier's correction is bounded by the noise estimate: where NeSNN sees no noise, the image "
            "passes unchanged. Exercise 1 rebuilds the purifier's output bit for bit from its two halves.",
            "Every accuracy in this lesson is grey-box: crafted on the classifier, blind to the purifier.",
            "The ablation uses short training and one seed; the Exercise 2 solution lets snnlab.compare decide "
            "which differences are more than noise (two images and two standard errors).",
            "Lesson 5's words appear in the ablation table (score, threshold, flagged, false positives, AUROC); "
            "the lesson defines them briefly above it.",
        ],
        "mistakes": [
            "Exercise 1: adding the noise instead of subtracting it, leaving out tanh (unbounded correction), or "
            "the clip.",
            "Exercise 3: assuming the pass-through protects clean accuracy without measuring it.",
        ],
    },
    "05": {
        "talking": [
            "The threshold comes from held-out clean images at a chosen false-positive rate; never from the test "
            "images or the attack being reported.",
            "What a low threshold costs is false positives (rejected users), not clean accuracy: on digits "
            "purification costs no clean accuracy at all (section 1's cell), so the detector's contribution is the "
            "flag, not the protection of clean accuracy.",
            "An attacker who knows the threshold can go through either branch: unflagged, or flagged and then "
            "past the purifier (the Think! prompt, and lesson 6).",
        ],
        "mistakes": [
            "Exercise 1: taking the fpr end of the sorted scores instead of the (1 - fpr) end; an off-by-one in the "
            "index (ranked[k] with the ceiling: Python counts from 0); returning the count k instead of the score "
            "there. The checker compares which clean images are flagged, and names each.",
            "Exercise 2: choosing the threshold on the test split.",
        ],
    },
    "06": {
        "talking": [
            "Name the threat model of every number. The grey-box rows are the seed paper's setting; they are not "
            "white-box robustness.",
            "An image is robust only if every attack failed on it: report the per-image worst case over the "
            "ensemble, not the lowest single row.",
            "The gradient is the attacker's choice: the forward pass never changes, only the backward.",
            "The sanity checks tell you whether the attack worked, before you believe any figure.",
            "On 48 images a difference of a couple of images is a tie: Exercises 2 and 4 rank attacks with "
            "snnlab.compare and find ties, which is the lesson (a min() would crown one of two equal figures).",
        ],
        "mistakes": [
            "Exercise 1: detaching the whole purifier output (no gradient) or adding x to it (wrong forward); the "
            "checker tests the forward value and the gradient separately.",
            "Calling the lowest single-attack row the worst case.",
            "Quoting the light ensemble (the report's quick look) as the robust figure instead of the full one.",
        ],
    },
    "07": {
        "talking": [
            "Every purifier is images -> images, so the same defence and the same attacks apply; what differs "
            "is what each does to a clean image, and whether it is random.",
            "The L-inf detector works only with a purifier that leaves clean images nearly alone (the SNN "
            "purifier's bounded correction); the others are used 'purify everything'.",
            "A random defence is attacked with EOT and reported over several draws, worst draw beside the mean; "
            "the fixed-randomness test separates the purifier's work from its randomness.",
            "A certificate is a guarantee for the smoothed classifier, against every attack, in an L2 ball, that "
            "holds with probability 1 - alpha; on 8x8 images an L-inf ball of eps needs R >= 8 eps. An empirical "
            "figure is an upper bound.",
            "The EOT sweep ran on 25 images with one attack: it finds no sign that more EOT or steps help, at a "
            "resolution too coarse to call the table's EOT 'enough'.",
            "The fair certified baseline is a classifier trained on noise; at this scale it ties the consistency "
            "purifier at every sigma and radius (the lesson's cell checks it).",
        ],
        "mistakes": [
            "Exercise 2: using the share of votes instead of its lower confidence bound, alpha / 2 (two-sided), "
            "or a negative radius instead of abstaining; the checker names each.",
            "Reading the joint-defence rows of the random purifiers as their robustness: their detector flags "
            "almost nothing.",
            "Comparing a certified radius with an L-inf eps directly.",
        ],
    },
    "08": {
        "talking": [
            "A backdoor is a training-time threat: the attacker edits a share of the training data, not a test "
            "input; clean accuracy hides it and the attack success rate shows it.",
            "DataElixir's idea in one line: a diffusion model trained on clean data erases the trigger but keeps "
            "the digit, so a poisoned sample's label moves when its image is noised and denoised.",
            "The target label is found as an outlier among labels (KL and the median/MAD anomaly index), which "
            "assumes one label stands out; all-to-all and low poison rates attack that assumption.",
            "Which data the DDPM saw decides the result: trained on the poisoned set, it restores the trigger.",
            "The paper's 'any label differs' rule flags many clean digits at 8x8; the lesson reports both rules.",
        ],
        "mistakes": [
            "Exercise 1: scaling by the standard deviation, forgetting 1.4826, taking the absolute value, or "
            "using torch's lower median on an even count; the checker names each.",
            "Reading the backdoored model's normal clean accuracy as evidence that the data is clean.",
            "Calling the defence robust from the BadNets row alone, without the adaptive scenarios and the "
            "trigger-size sweep (section 6), or calling 20% poison 'held' when its ASR after is far above the "
            "clean model's.",
        ],
    },
}


def _outputs(cell) -> str:
    text = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            text.append(output["text"])
        elif output.get("output_type") == "execute_result":
            text.append(output.get("data", {}).get("text/plain", ""))
    return "".join(text).strip()


def lesson_notes(path: str) -> str:
    nb = nbformat.read(path, as_version=4)
    number = os.path.basename(path)[:2]
    title = nb.cells[0].source.splitlines()[0].lstrip("# ").strip()
    header = nb.cells[0].source
    time = re.search(r"\*\*Estimated time:\*\* ([^\n]+)", header)
    lines = [f"## {title}", ""]
    if time:
        lines += [f"**Time:** {time.group(1)}", ""]
    lines += ["**Sections** (time to here from the start of the lesson):", ""]
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## ") and "Summary" not in cell.source[:12]:
            heading = cell.source.splitlines()[0][3:]
            timing = re.search(r"Estimated timing to here from start of lesson: ([^*]+)\*", cell.source)
            lines.append(f"- {heading}" + (f" ({timing.group(1).strip()})" if timing else ""))
    lines += ["", "**Talking points**", ""] + [f"- {t}" for t in NOTES[number]["talking"]]
    lines += ["", "**Common mistakes**", ""] + [f"- {t}" for t in NOTES[number]["mistakes"]]
    lines += ["", "**Expected outputs** (copied from the executed notebook)", ""]
    exercise = None
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "### Exercise" in cell.source:
            exercise = next(line for line in cell.source.splitlines() if "### Exercise" in line)[4:]
        elif cell.cell_type == "code" and ("solution" in cell.metadata.get("tags", [])
                                           or "NBVAL_CHECK_OUTPUT" in cell.source):
            out = _outputs(cell)
            if not out:
                continue
            label = f"{exercise}, solution" if "solution" in cell.metadata.get("tags", []) else "key numbers"
            lines += [f"*{label}:*", "", "```text", out, "```", ""]
    return "\n".join(lines)


def main() -> str:
    paths = sorted(glob.glob(os.path.join(LESSONS, "[0-9][0-9]_*.ipynb")))
    parts = ["# Instructor notes", "",
             "One section per lesson: its time and sections, what to say, the mistakes students make, and "
             "the outputs the class should see. Generated by `book/make_teachers.py` from the executed "
             "lessons, so every figure below is what the committed notebook printed (2 CPU cores, shipped "
             "checkpoints). For the session plans see [Running a session](schedule.md).", ""]
    parts += [lesson_notes(p) for p in paths]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    return OUT


if __name__ == "__main__":
    print(main())
