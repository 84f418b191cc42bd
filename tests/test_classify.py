"""tsnn.MaxRateClassifier and the interval encoders (tsnn.encode.poisson_interval, periodic)."""

import pytest
import torch

import tritonsnn as tsnn

from .checks import assert_close


def _spikes(labels, T=20, seed=0):
    """Neurons 2c and 2c+1 fire (p = 0.5) for class c, the others at p = 0.05."""
    g = torch.Generator().manual_seed(seed)
    p = torch.full((len(labels), 6), 0.05)
    for b, c in enumerate(labels.tolist()):
        p[b, 2 * c : 2 * c + 2] = 0.5
    return (torch.rand(T, *p.shape, generator=g) < p).float()


def test_max_rate_classifier_assigns_and_predicts():
    clf = tsnn.MaxRateClassifier(6, 3)
    assert clf.assignments.tolist() == [-1] * 6
    for seed in range(3):
        labels = torch.randint(0, 3, (16,), generator=torch.Generator().manual_seed(seed))
        clf.update(_spikes(labels, seed=seed), labels)
    assert clf.assignments.tolist() == [0, 0, 1, 1, 2, 2]
    test = torch.tensor([2, 0, 1, 1, 0, 2])
    assert torch.equal(clf(_spikes(test, seed=9)), test)
    # the running mean is the mean over every sample of the class
    seen = [(torch.randint(0, 3, (16,), generator=torch.Generator().manual_seed(s)), s) for s in range(3)]
    rates = torch.cat([_spikes(lab, seed=s).mean(0) for lab, s in seen])
    labels = torch.cat([lab for lab, _ in seen])
    for c in range(3):
        assert_close(clf.rates[c], rates[labels == c].mean(0), 1e-6, 1e-6, f"class {c}")
    restored = tsnn.MaxRateClassifier(6, 3)
    restored.load_state_dict(clf.state_dict())
    assert torch.equal(restored.assignments, clf.assignments)


def test_max_rate_classifier_with_decay_follows_the_latest_batches():
    clf = tsnn.MaxRateClassifier(6, 3, decay=0.5)
    first, second = torch.tensor([0, 1, 2]), torch.tensor([2, 1, 0])
    a, b = _spikes(first, seed=1), _spikes(second, seed=2)
    clf.update(a, first)
    clf.update(b, second)
    for c in range(3):
        want = 0.5 * a.mean(0)[first == c].mean(0) + 0.5 * b.mean(0)[second == c].mean(0)
        assert_close(clf.rates[c], want, 1e-6, 1e-6, f"class {c}")


def test_max_rate_classifier_refuses_bad_input():
    clf = tsnn.MaxRateClassifier(6, 3)
    with pytest.raises(ValueError, match=r"spikes must be \[T, B, 6\]"):
        clf.update(torch.zeros(4, 2, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"labels must be \[B\] = \[2\] class indices in \[0, 3\)"):
        clf.update(torch.zeros(4, 2, 6), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="decay must be None or in"):
        tsnn.MaxRateClassifier(6, 3, decay=1.0)


def test_poisson_interval_rates_and_refractory_periods():
    rates = torch.tensor([0.0, 50.0, 200.0, 400.0]).expand(300, 4).contiguous()
    g = torch.Generator().manual_seed(0)
    spikes = tsnn.encode.poisson_interval(rates, 1000, dt=1.0, refractory=2.0, generator=g)
    assert spikes.shape == (1000, 300, 4) and spikes.max() == 1  # refractory >= dt: at most one per step
    measured = spikes.sum(0).mean(0)  # spikes per second per element
    assert measured[0] == 0
    assert_close(measured[1:], rates[0, 1:], 0.0, 0.05, "mean rate", elementwise=True)
    times = spikes[:, 0, 3].nonzero().flatten()
    assert int((times[1:] - times[:-1]).min()) >= 2  # no two spikes closer than the refractory period
    g = torch.Generator().manual_seed(0)
    assert torch.equal(tsnn.encode.poisson_interval(rates, 1000, dt=1.0, refractory=2.0, generator=g), spikes)
    fast = tsnn.encode.poisson_interval(torch.full((50,), 800.0), 500, dt=1.0)  # refractory < dt: counts
    assert fast.max() > 1
    assert_close(fast.sum(0).mean() * 2.0, torch.tensor(800.0), 0.0, 0.05, "rate without refractory")
    with pytest.raises(ValueError, match=r"r \* refractory < 1000"):
        tsnn.encode.poisson_interval(torch.tensor([600.0]), 10, refractory=2.0)
    with pytest.raises(ValueError, match="finite firing rates >= 0"):
        tsnn.encode.poisson_interval(torch.tensor([-1.0]), 10)


def test_periodic_spikes_every_period():
    spikes = tsnn.encode.periodic(torch.tensor([100.0, 250.0, 1500.0]), 40, dt=1.0)
    assert spikes[:, 0].nonzero().flatten().tolist() == [9, 19, 29, 39]
    assert spikes[:, 1].nonzero().flatten().tolist() == [3, 7, 11, 15, 19, 23, 27, 31, 35, 39]
    assert spikes[:, 2].sum() == 60 and spikes[:, 2].max() == 2  # faster than one per step: counts
    shifted = tsnn.encode.periodic(torch.tensor([100.0]), 40, phase=0.5)
    assert shifted[:, 0].nonzero().flatten().tolist() == [4, 14, 24, 34]
    with pytest.raises(ValueError, match=r"phase must be a fraction of the period in \[0, 1\)"):
        tsnn.encode.periodic(torch.tensor([100.0]), 40, phase=1.0)
