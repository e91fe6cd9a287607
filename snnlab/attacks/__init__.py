"""Attacks on spiking networks and on the joint defence, one module per idea.

==================  ==========================================================
module              what it holds
==================  ==========================================================
core                what every attack shares: the target's kind (defence or
                    classifier, random or not), the white-box view (BPDA),
                    the best iterate, the projection, and one ``judge``
threat_models       torchattacks attacks (FGSM, PGD, CW, Square, APGD,
                    AutoAttack) as ``AttackSpec``; the substitute CNN for
                    transfer; which model is attacked and which evaluated
surrogates          the gradient is a choice: attack-time MLF surrogates
                    (shapes, widths, rate gradient, HART-style, ASSG-style)
surrogate_sweep     the experiment: APGD through each surrogate in turn
objectives          per-image attack losses: CE, DLR, targeted DLR, and the
                    joint defence's objectives
adaptive            AdaptivePGD: end-to-end PGD, BPDA, EOT, detector-aware
apgd                Croce & Hein's APGD with any loss
orthogonal          detector evasion: orthogonal and selective PGD
ensemble            attacks in cascade, per-image worst case, presets
stochastic          random defences: EOT sweeps, evaluation draws, fixed draws
sanity              Carlini et al.'s sanity checks as a function
==================  ==========================================================

Every attack has the torchattacks call shape ``attack(images, labels) ->
adversarial images``, and every attack is importable from here. Dependencies run
one way: ``surrogates`` <- ``core`` <- the attacks <- ``ensemble``, ``stochastic``,
``sanity``, ``surrogate_sweep``.
"""
from .adaptive import AdaptivePGD
from .apgd import APGD
from .core import (
                   BestIterate,
                   BPDADefense,
                   ClassifierView,
                   Verdict,
                   attack_view,
                   defend_batched,
                   is_defense,
                   is_random,
                   judge,
                   predict_batched,
                   project,
)
from .ensemble import PRESETS, Ensemble, EnsembleResult
from .orthogonal import OrthogonalPGD
from .sanity import sanity_checks
from .surrogate_sweep import surrogate_sweep
from .surrogates import SURROGATES, Surrogate, SurrogateModel, attack_surrogate, surrogate
from .threat_models import (
                   ATTACKS,
                   EPS_GRIDS,
                   THREAT_MODELS,
                   AttackSpec,
                   SubstituteCNN,
                   SubstituteConfig,
                   default_steps,
                   eps_grid,
                   run_attack,
)

__all__ = [
    "APGD", "ATTACKS", "EPS_GRIDS", "PRESETS", "SURROGATES", "THREAT_MODELS", "AdaptivePGD", "AttackSpec",
    "BPDADefense", "BestIterate", "ClassifierView", "Ensemble", "EnsembleResult", "OrthogonalPGD",
    "SubstituteCNN", "SubstituteConfig", "Surrogate", "SurrogateModel", "Verdict", "attack_surrogate",
    "attack_view", "default_steps", "defend_batched", "eps_grid", "is_defense", "is_random", "judge",
    "predict_batched", "project", "run_attack", "sanity_checks", "surrogate", "surrogate_sweep",
]
