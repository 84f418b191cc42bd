"""Reward-modulated STDP with eligibility traces (MSTDPET): two neurons learn, from a reward
alone, which of two input patterns each should answer.

    python examples/mstdpet_reward.py        # a few seconds on a CPU

Input: 40 Poisson inputs; pattern A drives inputs 0-19 hard, pattern B inputs 20-39 (the rest
fire at a low background rate). ``nn.Linear(40, 2)`` with random positive weights feeds two
``tsnn.Leaky`` neurons, so at first both answer both patterns. Every step, the reward of a
sample is +1 per spike of the neuron that should answer its pattern (neuron 0 for A, 1 for B)
and -1 per spike of the other one. ``tsnn.MSTDPET`` turns it into weight changes through
per-sample eligibility traces (no gradients, no labels seen by the rule, only the reward).

Outcome, on fresh samples before and after training: the accuracy (the right neuron fires more
than the other) and the share of output spikes that come from the right neuron.
"""

from __future__ import annotations

import time

import torch
from torch import nn

import tritonsnn as tsnn

N_IN, T, BATCH, EPOCHS = 40, 50, 32, 200
ON_RATE, OFF_RATE = 0.3, 0.02


def sample(n, gen):
    labels = torch.randint(0, 2, (n,), generator=gen)
    rates = torch.full((n, N_IN), OFF_RATE)
    for b, label in enumerate(labels.tolist()):
        rates[b, label * 20 : (label + 1) * 20] = ON_RATE
    return tsnn.encode.rate(rates, T, generator=gen), labels


def reward_of(spikes, labels):
    """+1 per spike of the right neuron, -1 per spike of the other, per step and sample ``[T, B]``."""
    right = spikes.gather(2, labels[None, :, None].expand(spikes.shape[0], -1, 1))[..., 0]
    return 2 * right - spikes.sum(2)


@torch.no_grad()
def evaluate(layer, neuron, gen, n=512):
    x, labels = sample(n, gen)
    counts = neuron(layer(x)).sum(0)  # [n, 2]
    right = counts.gather(1, labels[:, None])[:, 0]
    wrong = counts.sum(1) - right
    return (right > wrong).float().mean().item(), (right.sum() / counts.sum().clamp(min=1)).item()


def main(argv=None):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    layer = nn.Linear(N_IN, 2, bias=False)
    with torch.no_grad():
        layer.weight.uniform_(0.05, 0.25)
    neuron = tsnn.Leaky(beta=0.9, threshold=1.0)
    rule = tsnn.MSTDPET(layer, a_plus=0.002, a_minus=0.002, tau_eligibility=20.0, w_min=0.0, w_max=0.5)
    before = evaluate(layer, neuron, torch.Generator().manual_seed(2))
    start = time.perf_counter()
    for _ in range(EPOCHS):
        x, labels = sample(BATCH, gen)
        with torch.no_grad():
            spikes = neuron(layer(x))
        rule.update(x, spikes, reward_of(spikes, labels))
    seconds = time.perf_counter() - start
    after = evaluate(layer, neuron, torch.Generator().manual_seed(2))
    print(f"before training: accuracy {before[0]:.3f}, spikes from the right neuron {before[1]:.3f}")
    print(f"train time: {seconds:.1f} s ({EPOCHS} minibatches of {BATCH})")
    w = layer.weight
    for n, name in enumerate("AB"):
        print(
            f"neuron {n} ({name}): mean weight from A's inputs {w[n, :20].mean():.3f}, from B's {w[n, 20:].mean():.3f}"
        )
    print(f"after training: accuracy {after[0]:.3f}, spikes from the right neuron {after[1]:.3f}")
    return before, after


if __name__ == "__main__":
    main()
