"""Attacks on spiking networks and on the joint defence, one module per idea.

==================  ==========================================================
module              what it holds
==================  ==========================================================
threat_models       torchattacks attacks (FGSM, PGD, CW, Square, APGD,
                    AutoAttack) as ``AttackSpec``; the substitute CNN for
                    transfer; which model is attacked and which evaluated
surrogates          the gradient is a choice: attack-time MLF surrogates
                    (shapes, widths, rate gradient, HART-style, ASSG-style)
objectives          per-image attack losses: CE, DLR, targeted DLR, and the
                    joint defence's objectives
adaptive            the defence with a chosen backward (BPDA) and AdaptivePGD
apgd                Croce & Hein's APGD with any loss
orthogonal          detector evasion: orthogonal and selective PGD
ensemble            attacks in cascade, per-image worst case, presets
sanity              Carlini et al.'s sanity checks as a function
==================  ==========================================================

Every attack has the torchattacks call shape ``attack(images, labels) ->
adversarial images``. The names of the former ``snnlab.attacks`` and
``snnlab.adaptive`` modules are importable from here.
"""
from .adaptive import AdaptivePGD, BPDADefense  # noqa: F401
from .surrogates import SURROGATES, Surrogate, SurrogateModel, attack_surrogate, surrogate  # noqa: F401
from .threat_models import (ATTACKS, EPS_GRIDS, THREAT_MODELS, AttackSpec, SubstituteCNN,  # noqa: F401
                            SubstituteConfig, default_steps, eps_grid, run_attack, train_substitute)
