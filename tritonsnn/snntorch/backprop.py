"""snnTorch's ``backprop`` training loops: ``BPTT``, ``TBPTT`` and ``RTRL``.

Each steps ``net`` (a network of ``init_hidden=True`` neurons whose last layer has
``output=True``) one time step per call, accumulates ``criterion`` (a loss of
``snntorch.functional`` / ``tritonsnn.snntorch.functional`` / ``tritonsnn.loss``, recognised by
its name as snnTorch does) every ``K`` steps, updates the weights and detaches the
neurons' state. Results equal snnTorch 1.0's, with these repairs where snnTorch fails:

* ``TBPTT``/``RTRL`` with ``time_var=True`` and a given ``K`` run (snnTorch 1.0 raises
  UnboundLocalError);
* after each update the state of every neuron in ``net`` is detached (snnTorch 1.0
  detaches one neuron class only, so mixed networks fail on the next backward);
* an unknown ``criterion``/``regularization`` or a last layer that is not a neuron raises
  TypeError (snnTorch 1.0 fails later with NameError/UnboundLocalError).
"""

from __future__ import annotations

import torch

from . import _neurons as _n
from .utils import reset

__all__ = ["BPTT", "RTRL", "TBPTT"]

# criterion name -> (takes spikes (else membrane), targets vary over time)
_CRITERIA = {
    "mse_membrane_loss": (False, True),
    "ce_max_membrane_loss": (False, False),
    "ce_rate_loss": (True, False),
    "ce_count_loss": (True, False),
    "mse_count_loss": (True, False),
    "ce_latency_loss": (True, False),
    "mse_temporal_loss": (True, False),
    "ce_temporal_loss": (True, False),
}
_REGULARIZERS = {"l1_rate_sparsity": True}  # name -> takes spikes
# outputs of the last layer with output=True
_RETURNS = ((_n.Alpha, 4), (_n.Synaptic, 3), (_n.RSynaptic, 3), (_n.Leaky, 2), (_n.RLeaky, 2), (_n.Lapicque, 2))


def _name(fn):
    """snnTorch's losses carry their name in ``__name__``; tritonsnn.loss's are classes of that name."""
    return getattr(fn, "__name__", None) or type(fn).__name__


def _detach(net):
    for module in net.modules():
        if hasattr(module, "reset_state") and hasattr(module, "detach_state"):
            module.detach_state()


def _num_returns(net):
    modules = list(net._modules.values())
    last = modules[-1] if modules else None
    for cls, n in _RETURNS:
        if isinstance(last, cls):
            return n
    raise TypeError(
        f"the last layer of net must be a tritonsnn.snntorch neuron built with init_hidden=True and "
        f"output=True, so that net(x) returns its spikes and membrane; got {type(last).__name__}"
    )


def _apply_criterion(criterion, loss_spk, time_var_targets, spk_rec, mem_rec, targets, start, stop):
    if time_var_targets:
        targets = targets[int(start) : int(stop)]
    return criterion(spk_rec if loss_spk else mem_rec, targets)


def _check_steps(num_steps, time_var, time_first, K):
    if num_steps and time_var:
        raise ValueError(
            "num_steps should not be given when time_var=True: the time axis of each batch sets the number of steps"
        )
    if num_steps is False and time_var is False:
        raise ValueError("num_steps must be given when time_var=False (time-static data)")
    if num_steps and K > num_steps:
        raise ValueError("K must be less than or equal to num_steps")
    if time_var is False and time_first is False:
        raise ValueError("time_first applies to time-varying data only (time_var=True)")


def _what_losses_read(criterion, regularization):
    """``(loss reads spikes, targets vary over time, regularizer reads spikes)``, from the losses' names."""
    name = _name(criterion)
    if name not in _CRITERIA:
        raise TypeError(
            f"criterion must be one of the losses of snntorch.functional / tritonsnn.snntorch.functional "
            f"({', '.join(_CRITERIA)}), recognised by its __name__; got {criterion!r}"
        )
    loss_spk, time_var_targets = _CRITERIA[name]
    if time_var_targets:
        time_var_targets = getattr(criterion, "time_var_targets", False)
    reg_spk = False
    if regularization:
        reg_name = _name(regularization)
        if reg_name not in _REGULARIZERS:
            raise TypeError(
                f"regularization must be one of {', '.join(_REGULARIZERS)} (snnTorch's "
                f"functional.reg); got {regularization!r}"
            )
        reg_spk = _REGULARIZERS[reg_name]
    return loss_spk, time_var_targets, reg_spk


def TBPTT(
    net,
    dataloader,
    optimizer,
    criterion,
    num_steps=False,
    time_var=True,
    time_first=True,
    regularization=False,
    device="cpu",
    K=1,
):
    """Truncated backpropagation through time: a weight update every ``K`` steps.

    Args:
        net: network (``nn.Sequential`` or a Module) of ``init_hidden=True`` neurons; its last layer
            has ``output=True``.
        dataloader: yields ``(data, targets)``.
        optimizer: a ``torch.optim`` optimizer of ``net``'s parameters.
        criterion: an snnTorch loss (``mse_count_loss()``, ``ce_rate_loss()``, ...).
        num_steps: number of steps for time-static data (``time_var=False``); not given otherwise.
        time_var: the data vary over time, ``[T, B, ...]`` (or ``[B, T, ...]`` with ``time_first=False``).
        time_first: time is the first axis of the time-varying data.
        regularization: optional ``l1_rate_sparsity()`` term added to the loss.
        device: where ``net`` and the data are moved.
        K: steps per update (``False`` with ``time_var=True``: the whole sequence).

    Returns:
        The loss averaged over the epoch's batches (a tensor, as snnTorch returns it).
    """
    _check_steps(num_steps, time_var, time_first, K)
    reset(net)
    loss_spk, time_var_targets, reg_spk = _what_losses_read(criterion, regularization)
    _num_returns(net)

    whole_sequence = K is False
    step_trunc, K_count, loss_avg, iter_count = 0, 0, 0, 0
    spk_rec, mem_rec = [], []
    net = net.to(device)

    def update(spk_rec, mem_rec, start, stop):
        spk_rec, mem_rec = torch.stack(spk_rec, dim=0), torch.stack(mem_rec, dim=0)
        loss = _apply_criterion(criterion, loss_spk, time_var_targets, spk_rec, mem_rec, targets, start, stop)
        if regularization:
            loss += regularization(spk_rec if reg_spk else mem_rec)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        _detach(net)
        return loss

    for data, targets in dataloader:
        iter_count += 1
        net.train()
        data, targets = data.to(device), targets.to(device)
        if time_var:
            num_steps = data.size(0) if time_first else data.size(1)
            if whole_sequence:
                K = num_steps
        reset(net)
        for step in range(num_steps):
            if not time_var:
                x = data
            else:
                x = data[step] if time_first else data.transpose(1, 0)[step]
            spk, *_, mem = net(x)
            spk_rec.append(spk)
            mem_rec.append(mem)
            step_trunc += 1
            if step_trunc == K:
                loss = update(spk_rec, mem_rec, K_count * K, (K_count + 1) * K)
                loss_avg += loss / (num_steps / K)
                K_count += 1
                step_trunc, spk_rec, mem_rec = 0, [], []
        if step == num_steps - 1 and num_steps % K:
            loss = update(spk_rec, mem_rec, K_count * K, K_count * K + num_steps % K)
            loss_avg += loss / int(num_steps % K)
            K_count, step_trunc, spk_rec, mem_rec = 0, 0, [], []
    return loss_avg / iter_count


def BPTT(
    net,
    dataloader,
    optimizer,
    criterion,
    num_steps=False,
    time_var=True,
    time_first=True,
    regularization=False,
    device="cpu",
):
    """Backpropagation through time: one weight update per sequence (:func:`TBPTT` with
    ``K = num_steps``). Arguments and result as :func:`TBPTT`."""
    return TBPTT(**locals(), K=num_steps)


def RTRL(
    net,
    dataloader,
    optimizer,
    criterion,
    num_steps=False,
    time_var=True,
    time_first=True,
    regularization=False,
    device="cpu",
):
    """snnTorch's ``RTRL``, which is :func:`TBPTT` with ``K = 1``: a weight update after every
    step with the state detached in between, so each update sees the gradient of the current
    step only. It is not real-time recurrent learning (no forward-carried sensitivities); it
    reproduces snnTorch 1.0's function of that name. Arguments and result as :func:`TBPTT`."""
    return TBPTT(**locals(), K=1)
