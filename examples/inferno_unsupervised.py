"""Unsupervised learning the Inferno way: GLIF2 neurons with a batch-shared adaptive threshold
learn, by kernel STDP and without labels, to tell Poisson input patterns apart.

The task, the winner-take-all readout and the evaluation are those of ``stdp_unsupervised.py``
(4 patterns among 48 Poisson inputs, 6 neurons). What changes is the toolkit an Inferno user
would reach for:

* ``tsnn.GLIF2`` neurons, whose threshold adapts as Inferno's ALIF/GLIF2 do: one adaptation per
  neuron shared by the minibatch (``SharedThreshold``), raised by every spike and decaying slowly,
  so a neuron that keeps winning becomes harder to excite and every neuron gets a share of the
  patterns (the homeostasis). It adapts in ``train()`` and is frozen in ``eval()``.
* ``tsnn.KernelSTDP`` with exponential kernels of the spike-time difference (Inferno's
  ``KernelSTDP`` with ``exp_stdp_post_kernel``/``exp_stdp_pre_kernel``), soft-bounded.
* competitive weight normalisation after every update (``tsnn.plasticity.normalize_``).

Outcome: the mutual information between pattern and winning neuron (bits; 2 is perfect) and
the clustering accuracy, before and after training, on fresh held-out samples, and for a
control trained the same way without plasticity (the adaptive threshold alone).
Runs on the CPU in a few seconds: ``python examples/inferno_unsupervised.py``.
"""

import math

import torch
from stdp_unsupervised import (  # the task, the readout and the evaluation
    BATCH,
    EPOCHS,
    NUM_NEURONS,
    NUM_PATTERNS,
    T,
    evaluate,
    input_layer,
    make_patterns,
    sample,
    winner_take_all,
)

import tritonsnn as tsnn
import tritonsnn.functional as F

ADAPTATION = F.SharedThreshold(tau=2000.0, increment=0.02)  # ms, threshold units per spike


def train(rates, a_plus, a_minus):
    """Build the network, train it for EPOCHS minibatches; returns (before, after) evaluations."""
    gen = torch.Generator().manual_seed(0)
    linear, total_weight = input_layer(gen)
    # tau=10 steps; a spike resets the membrane to v_rest (reset_mul=0, reset_add=0)
    neuron = tsnn.GLIF2(
        tau=10.0, threshold=0.4, reset_mul=0.0, reset_add=0.0, threshold_adaptation=ADAPTATION, return_mem=True
    )
    cell = tsnn.Cell(tsnn.Connection(linear, synapse=tsnn.ExpSynapse(tau=2.0)), neuron, record=True)
    kernel_post, kernel_pre = F.exp_stdp_kernels(a_plus, a_minus, tau_plus=10.0, tau_minus=10.0)
    stdp = tsnn.KernelSTDP(
        cell, kernel_post=kernel_post, kernel_pre=kernel_pre, rule="multiplicative", w_min=0.0, w_max=1.0
    )

    def held_out():
        neuron.eval()  # the adaptation is frozen while evaluating
        result = evaluate(cell, rates, torch.Generator().manual_seed(1))
        neuron.train()
        return result

    mi0, acc0, _ = held_out()
    for _ in range(EPOCHS):
        x, _ = sample(rates, BATCH, gen)
        with torch.no_grad():
            spikes, mem = cell(x)  # the threshold adapts to every sample's spikes
            post, _ = winner_take_all(spikes, mem)
            stdp.update(cell.pre, post)
            tsnn.plasticity.normalize_(linear.weight, total_weight).clamp_(0.0, 1.0)
    mi1, acc1, joint = held_out()
    return (mi0, acc0), (mi1, acc1, joint)


def main():
    rates = make_patterns()
    (mi0, acc0), (mi1, acc1, joint) = train(rates, a_plus=0.01, a_minus=0.006)
    _, (mi_c, acc_c, _) = train(rates, a_plus=0.0, a_minus=0.0)  # control: no plasticity
    print(f"patterns: {NUM_PATTERNS}, GLIF2 neurons: {NUM_NEURONS}, T={T}, {EPOCHS} minibatches of {BATCH}")
    print("wins per pattern (rows) and neuron (columns) after training:")
    print(joint.to(torch.int64))
    print(f"control without STDP (adaptive threshold only): {mi_c:.3f} bits, accuracy {acc_c:.1%}")
    print(f"mutual information pattern<->winner: {mi0:.3f} -> {mi1:.3f} bits (max {math.log2(NUM_PATTERNS):.1f})")
    print(f"clustering accuracy: {acc0:.1%} -> {acc1:.1%} (chance {1 / NUM_PATTERNS:.0%})")
    return (mi0, acc0), (mi1, acc1), (mi_c, acc_c)


if __name__ == "__main__":
    main()
