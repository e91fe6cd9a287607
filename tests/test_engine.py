"""The one training loop (snnlab.training.engine): what every model's training goes through."""
import pytest
import torch

from snnlab.runs.checkpoints import load_checkpoint, save_checkpoint
from snnlab.training import engine
from snnlab.training.trainers import ClassifierTraining, train_classifier

pytestmark = pytest.mark.unit


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.config = ClassifierTraining()  # any dataclass: the checkpoint records it
        self.layer = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.layer(x)


def loop(model, data, kind="tiny"):
    x, y = data
    return engine.Loop(kind, lambda epoch: [(x[i:i + 8], y[i:i + 8]) for i in range(0, len(y), 8)],
                       lambda batch, epoch: torch.nn.functional.cross_entropy(model(batch[0]), batch[1]), 4)


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(32, 4, generator=g), torch.randint(0, 2, (32,), generator=g)


def test_a_constant_schedule_keeps_the_rate_and_saves_no_scheduler(tmp_path, data):
    torch.manual_seed(0)
    model = Tiny()
    settings = ClassifierTraining(epochs=2, optimizer="adam", schedule="constant", lr=1e-2)
    losses = engine.fit(model, settings, loop(model, data), checkpoint=str(tmp_path / "t.pt"), progress=False)
    assert len(losses) == 2 * 4 and losses[-1] < losses[0]
    state = load_checkpoint(str(tmp_path / "t.pt"))
    assert state["scheduler"] is None and state["epoch"] == 2 and state["optimizer"]["param_groups"][0]["lr"] == 1e-2


def test_the_training_time_adds_up_over_resumes(tmp_path, data):
    torch.manual_seed(0)
    model, path = Tiny(), str(tmp_path / "t.pt")
    engine.fit(model, ClassifierTraining(epochs=3), loop(model, data), checkpoint=path, progress=False, max_epochs=1)
    first = load_checkpoint(path)
    assert first["epoch"] == 1 and first["seconds"] >= 0 and first["untimed_epochs"] == 0
    engine.fit(model, ClassifierTraining(epochs=3), loop(model, data), checkpoint=path, progress=False)
    last = load_checkpoint(path)
    assert last["epoch"] == 3 and last["seconds"] >= first["seconds"] and last["untimed_epochs"] == 0


def test_a_checkpoint_from_before_the_time_was_kept_counts_its_epochs_as_untimed(tmp_path, data):
    torch.manual_seed(0)
    model, path = Tiny(), str(tmp_path / "t.pt")
    engine.fit(model, ClassifierTraining(epochs=3), loop(model, data), checkpoint=path, progress=False, max_epochs=2)
    old = load_checkpoint(path)
    del old["seconds"], old["untimed_epochs"]  # as written before snnlab kept the time
    save_checkpoint(path, old)
    engine.fit(model, ClassifierTraining(epochs=3), loop(model, data), checkpoint=path, progress=False)
    assert load_checkpoint(path)["untimed_epochs"] == 2


def test_train_all_reports_the_time_its_checkpoints_kept(tmp_path):
    """The manifest's training seconds come from the checkpoints, so a run spanning sessions is timed in full."""
    from snnlab.training.trainers import train_all

    manifest = train_all("digits", str(tmp_path / "run"), classifier_epochs=1, purifier_epochs=1, progress=False)
    for name in ("classifier", "purifier"):
        kept = load_checkpoint(str(tmp_path / "run" / f"{name}.pt"))["seconds"]
        assert manifest["train_seconds"][f"{name}_s"] == kept
    assert "untimed_epochs" not in manifest


def test_an_unknown_schedule_is_named(data):
    with pytest.raises(ValueError, match="unknown schedule 'linear'; choose 'cosine', 'step' or 'constant'"):
        engine.optimizer_for(Tiny(), ClassifierTraining(schedule="linear"), 4)


def test_every_model_trains_through_the_one_loop(monkeypatch, data):
    """The classifier's training calls engine.fit (the other trainers do too: the bit-identity check in the
    closing note of issue 19 compared every one of them with the loops they replaced)."""
    calls = []
    real = engine.fit
    monkeypatch.setattr(engine, "fit", lambda *a, **k: calls.append(a[2].kind) or real(*a, **k))
    import snnlab.training.trainers as trainers

    monkeypatch.setattr(trainers, "fit", engine.fit)
    images = torch.rand(16, 1, 8, 8)
    train_classifier(settings=ClassifierTraining(epochs=1, batch_size=8), data=(images, torch.arange(16) % 10),
                     progress=False)
    assert calls == ["classifier"]
