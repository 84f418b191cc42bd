"""Unsupervised STDP: a few Leaky neurons learn to tell Poisson input patterns apart, without labels.

Network: 4 input patterns (each a set of strongly firing inputs among 48 Poisson
rate-coded inputs) -> nn.Linear(48, 6) -> tsnn.Leaky, with winner-take-all lateral
inhibition: per sample the neuron that fired most is the only one whose spikes
drive plasticity. Learning is minibatched: traces are per sample, the weights and
the homeostatic thresholds are shared, and every minibatch applies the mean of the
per-sample STDP updates (soft-bounded, multiplicative rule), followed by the usual
competitive-learning weight normalisation (each neuron's total input weight is kept
fixed, so strengthening one pattern's inputs weakens the others).

Outcome: the mutual information between the presented pattern and the winning
neuron (bits; log2(4) = 2 is perfect) and the clustering accuracy (each neuron
labelled with the pattern it wins most often), before and after training, on fresh
held-out samples, and for a control network trained the same way without STDP
(homeostasis and normalisation alone). Runs on the CPU in a few seconds: ``python examples/stdp_unsupervised.py``.
"""

import math

import torch
from torch import nn

import tritonsnn as tsnn

NUM_INPUTS, NUM_NEURONS, NUM_PATTERNS = 48, 6, 4
T, BATCH, EPOCHS = 60, 16, 50
ON_RATE, OFF_RATE = 0.35, 0.02  # firing probability per step of pattern / background inputs


def make_patterns():
    rates = torch.full((NUM_PATTERNS, NUM_INPUTS), OFF_RATE)
    for p in range(NUM_PATTERNS):  # each pattern owns 12 consecutive inputs
        rates[p, p * 12 : (p + 1) * 12] = ON_RATE
    return rates


def sample(rates, n, gen):
    labels = torch.randint(0, NUM_PATTERNS, (n,), generator=gen)
    return tsnn.encode.rate(rates[labels], T, generator=gen), labels  # [T, n, NUM_INPUTS]


def winner_take_all(spikes, mem):
    """Keep only the spikes of each sample's most active neuron (ties: highest peak membrane)."""
    score = spikes.sum(0) + 1e-3 * torch.sigmoid(mem.max(0).values)
    winner = score.argmax(1)
    mask = nn.functional.one_hot(winner, NUM_NEURONS).to(spikes.dtype)
    return spikes * mask, winner


def evaluate(cell, rates, gen):
    """Mutual information (bits) between pattern and winner, and clustering accuracy."""
    x, labels = sample(rates, 400, gen)
    with torch.no_grad():
        spikes, mem = cell(x)
    _, winner = winner_take_all(spikes, mem)
    joint = torch.zeros(NUM_PATTERNS, NUM_NEURONS)
    joint.index_put_((labels, winner), torch.ones(len(labels)), accumulate=True)
    p = joint / joint.sum()
    pp, pw = p.sum(1, keepdim=True), p.sum(0, keepdim=True)
    nz = p > 0
    mi = float((p[nz] * torch.log2(p[nz] / (pp @ pw)[nz])).sum())
    neuron_label = joint.argmax(0)  # the pattern each neuron wins most
    accuracy = float((neuron_label[winner] == labels).float().mean())
    return mi, accuracy, joint


def input_layer(gen):
    """The layer plasticity learns, with small random weights, and the input weight each neuron
    keeps (the competitive normalisation's budget)."""
    linear = nn.Linear(NUM_INPUTS, NUM_NEURONS, bias=False)
    with torch.no_grad():
        linear.weight.uniform_(0.05, 0.25, generator=gen)
    return linear, linear.weight.sum(1, keepdim=True).mean().item()


def train(rates, a_plus, a_minus):
    """Build the network, train it for EPOCHS minibatches; returns (before, after) evaluations."""
    gen = torch.Generator().manual_seed(0)
    linear, total_weight = input_layer(gen)
    neuron = tsnn.Leaky(beta=0.9, threshold=4.0, return_mem=True)
    cell = tsnn.Cell(tsnn.Connection(linear, synapse=tsnn.ExpSynapse(tau=2.0)), neuron, record=True)
    stdp = tsnn.STDP(
        cell,
        a_plus=a_plus,
        a_minus=a_minus,
        tau_pre=10.0,
        tau_post=10.0,
        rule="multiplicative",
        w_min=0.0,
        w_max=1.0,
        reduction="mean",
    )
    homeostasis = tsnn.HomeostaticThreshold(neuron, target_rate=0.03, rate=0.5, min_threshold=1.0, features=NUM_NEURONS)

    mi0, acc0, _ = evaluate(cell, rates, torch.Generator().manual_seed(1))
    for _ in range(EPOCHS):
        x, _ = sample(rates, BATCH, gen)
        with torch.no_grad():
            spikes, mem = cell(x)
            post, _ = winner_take_all(spikes, mem)
            stdp.update(cell.pre, post)
            tsnn.plasticity.normalize_(linear.weight, total_weight).clamp_(0.0, 1.0)
            homeostasis.update(post)  # winners become harder to excite: every neuron gets a share
    mi1, acc1, joint = evaluate(cell, rates, torch.Generator().manual_seed(1))
    return (mi0, acc0), (mi1, acc1, joint)


def main():
    rates = make_patterns()
    (mi0, acc0), (mi1, acc1, joint) = train(rates, a_plus=0.01, a_minus=0.006)
    # Control: the same network, homeostasis and normalisation, but no STDP.
    _, (mi_c, acc_c, _) = train(rates, a_plus=0.0, a_minus=0.0)
    print(f"patterns: {NUM_PATTERNS}, neurons: {NUM_NEURONS}, T={T}, {EPOCHS} minibatches of {BATCH}")
    print(f"mutual information pattern<->winner: {mi0:.3f} -> {mi1:.3f} bits (max {math.log2(NUM_PATTERNS):.1f})")
    print(f"clustering accuracy:                 {acc0:.1%} -> {acc1:.1%} (chance {1 / NUM_PATTERNS:.0%})")
    print(f"control without STDP (homeostasis only): {mi_c:.3f} bits, accuracy {acc_c:.1%}")
    print("wins per pattern (rows) and neuron (columns) after training:")
    print(joint.to(torch.int64))


if __name__ == "__main__":
    main()
