"""snnTorch's tutorials run unchanged on tritonsnn.snntorch: the same losses and accuracies.

Each tutorial's code is one function taking the package as ``snn`` (``import snntorch as snn``
vs ``import tritonsnn.snntorch as snn``), adapted only to train a few batches of
scikit-learn's ``load_digits`` (8x8 images, 64 features) instead of MNIST. Both runs start
from the same seed; the losses of every iteration agree to float32 tolerance and the
accuracies exactly. (Gradients agree to float32 rounding, not bit for bit, so over many more
optimiser steps the two runs drift apart as any two float implementations do: Adam turns a
last-bit difference in a near-zero gradient into a full-size step.)
"""

import importlib
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import tritonsnn.snntorch as fsnn

snntorch = pytest.importorskip("snntorch")
sklearn_datasets = pytest.importorskip("sklearn.datasets")
from .checks import assert_close


def digits_batches(batch_size, n_batches, image=False, scale=1 / 16):
    digits = sklearn_datasets.load_digits()
    x = torch.tensor(digits.data[: batch_size * n_batches], dtype=torch.float32) * scale
    y = torch.tensor(digits.target[: batch_size * n_batches])
    if image:
        x = x.view(-1, 1, 8, 8)
    return list(zip(x.split(batch_size), y.split(batch_size)))


def submodule(snn, name):
    """``from snntorch import <name>`` for either package."""
    return importlib.import_module(f"{snn.__name__}.{name}")


# ------------------------------------------------------------------------------------------
# Tutorial 5: a fully connected SNN with explicit membranes, CrossEntropyLoss over mem_rec, Adam.
# ------------------------------------------------------------------------------------------
def tutorial_5(snn, n_batches=3):
    torch.manual_seed(0)
    batch_size = 32
    num_inputs, num_hidden, num_outputs = 64, 1000, 10
    num_steps = 25
    beta = 0.95
    dtype = torch.float

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(num_inputs, num_hidden)
            self.lif1 = snn.Leaky(beta=beta)
            self.fc2 = nn.Linear(num_hidden, num_outputs)
            self.lif2 = snn.Leaky(beta=beta)

        def forward(self, x):
            mem1 = self.lif1.init_leaky()
            mem2 = self.lif2.init_leaky()
            spk2_rec = []
            mem2_rec = []
            for step in range(num_steps):
                cur1 = self.fc1(x)
                spk1, mem1 = self.lif1(cur1, mem1)
                cur2 = self.fc2(spk1)
                spk2, mem2 = self.lif2(cur2, mem2)
                spk2_rec.append(spk2)
                mem2_rec.append(mem2)
            return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)

    net = Net()

    def print_batch_accuracy(data, targets):
        output, _ = net(data.view(batch_size, -1))
        _, idx = output.sum(dim=0).max(1)
        return np.mean((targets == idx).detach().cpu().numpy())

    loss = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=5e-4, betas=(0.9, 0.999))
    loss_hist, acc_hist = [], []
    for data, targets in digits_batches(batch_size, n_batches):
        net.train()
        spk_rec, mem_rec = net(data.view(batch_size, -1))  # noqa: RUF059  (the tutorial's code)
        loss_val = torch.zeros((1), dtype=dtype)
        for step in range(num_steps):
            loss_val += loss(mem_rec[step], targets)
        optimizer.zero_grad()
        loss_val.backward()
        optimizer.step()
        loss_hist.append(loss_val.item())
        with torch.no_grad():
            net.eval()
            acc_hist.append(print_batch_accuracy(data, targets))
    return loss_hist, acc_hist


# ------------------------------------------------------------------------------------------
# Quickstart: nn.Sequential of init_hidden neurons (last with output=True), utils.reset, mse_count_loss.
# ------------------------------------------------------------------------------------------
def quickstart_sequential(snn, n_batches=3, num_steps=25):
    surrogate, utils, SF = submodule(snn, "surrogate"), submodule(snn, "utils"), submodule(snn, "functional")
    torch.manual_seed(0)
    beta = 0.9
    spike_grad = surrogate.fast_sigmoid()
    # snnTorch's MNIST net with 8x8 digits: 8 -> conv3 -> 6 -> pool -> 3 -> conv3 (pad 1) -> 3 -> pool -> 1
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3),
        nn.MaxPool2d(2),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.MaxPool2d(2),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True),
        nn.Flatten(),
        nn.Linear(16 * 1 * 1, 10),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True, output=True),
    )

    def forward_pass(net, data, num_steps):
        spk_rec = []
        utils.reset(net)
        for step in range(num_steps):
            spk_out, mem_out = net(data)  # noqa: RUF059  (the tutorial's code)
            spk_rec.append(spk_out)
        return torch.stack(spk_rec)

    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3, betas=(0.9, 0.999))
    loss_fn = SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)
    loss_hist, acc_hist = [], []
    for data, targets in digits_batches(32, n_batches, image=True):
        net.train()
        spk_rec = forward_pass(net, data, num_steps)
        loss_val = loss_fn(spk_rec, targets)
        optimizer.zero_grad()
        loss_val.backward()
        optimizer.step()
        loss_hist.append(loss_val.item())
        with torch.no_grad():
            net.eval()
            acc_hist.append(SF.accuracy_rate(forward_pass(net, data, num_steps), targets))
    return loss_hist, acc_hist


# ------------------------------------------------------------------------------------------
# Regression tutorial 1: per-neuron learnable decays and thresholds, a leaky integrator output
# (reset_mechanism="none") trained with MSELoss on its membrane; its own synthetic data set.
# ------------------------------------------------------------------------------------------
def regression_1(snn, num_iter=4):
    surrogate = submodule(snn, "surrogate")
    torch.manual_seed(0)
    num_steps, hidden = 50, 128

    class RegressionDataset(torch.utils.data.Dataset):
        def __init__(self, timesteps, num_samples, mode):
            self.num_samples = num_samples
            feature_lst = []
            for idx in range(num_samples):
                end = float(torch.rand(1))
                lin_vec = torch.linspace(start=0.0, end=end, steps=timesteps)
                feature_lst.append(lin_vec.view(timesteps, 1))
            self.features = torch.stack(feature_lst, dim=1)
            if mode == "linear":
                self.labels = self.features * 1
            else:
                slope = float(torch.rand(1))
                self.labels = torch.sqrt(self.features * slope)

        def __len__(self):
            return self.num_samples

        def __getitem__(self, idx):
            return self.features[:, idx, :], self.labels[:, idx, :]

    class Net(torch.nn.Module):
        def __init__(self, timesteps, hidden):
            super().__init__()
            self.timesteps = timesteps
            self.hidden = hidden
            spike_grad = surrogate.fast_sigmoid()
            beta_in = torch.rand(self.hidden)
            thr_in = torch.rand(self.hidden)
            self.fc_in = torch.nn.Linear(in_features=1, out_features=self.hidden)
            self.lif_in = snn.Leaky(beta=beta_in, threshold=thr_in, learn_beta=True, spike_grad=spike_grad)
            beta_hidden = torch.rand(self.hidden)
            thr_hidden = torch.rand(self.hidden)
            self.fc_hidden = torch.nn.Linear(in_features=self.hidden, out_features=self.hidden)
            self.lif_hidden = snn.Leaky(beta=beta_hidden, threshold=thr_hidden, learn_beta=True, spike_grad=spike_grad)
            beta_out = torch.rand(1)
            self.fc_out = torch.nn.Linear(in_features=self.hidden, out_features=1)
            self.li_out = snn.Leaky(
                beta=beta_out, threshold=1.0, learn_beta=True, spike_grad=spike_grad, reset_mechanism="none"
            )

        def forward(self, x):
            mem_1 = self.lif_in.init_leaky()
            mem_2 = self.lif_hidden.init_leaky()
            mem_3 = self.li_out.init_leaky()
            mem_3_rec = []
            for step in range(self.timesteps):
                x_timestep = x[step, :, :]
                cur_in = self.fc_in(x_timestep)
                spk_in, mem_1 = self.lif_in(cur_in, mem_1)
                cur_hidden = self.fc_hidden(spk_in)
                spk_hidden, mem_2 = self.lif_hidden(cur_hidden, mem_2)
                cur_out = self.fc_out(spk_hidden)
                _, mem_3 = self.li_out(cur_out, mem_3)
                mem_3_rec.append(mem_3)
            return torch.stack(mem_3_rec)

    dataset = RegressionDataset(timesteps=num_steps, num_samples=1, mode="sqrt")
    dataloader = torch.utils.data.DataLoader(dataset=dataset, batch_size=1, drop_last=True)
    model = Net(timesteps=num_steps, hidden=hidden)
    optimizer = torch.optim.Adam(params=model.parameters(), lr=1e-3)
    loss_function = torch.nn.MSELoss()
    loss_hist = []
    for _ in range(num_iter):
        for feature, label in iter(dataloader):
            feature = torch.swapaxes(input=feature, axis0=0, axis1=1)
            label = torch.swapaxes(input=label, axis0=0, axis1=1)
            mem = model(feature)
            loss_val = loss_function(mem, label)
            optimizer.zero_grad()
            loss_val.backward()
            optimizer.step()
            loss_hist.append(loss_val.item())
    return loss_hist, []


# ------------------------------------------------------------------------------------------
# Regression tutorial 2: RLeaky layers with all-to-all (nn.Linear) feedback, mse_count_loss.
# ------------------------------------------------------------------------------------------
def regression_2(snn, n_batches=3):
    torch.manual_seed(0)
    num_steps, hidden = 10, 128

    class Net(torch.nn.Module):
        def __init__(self, timesteps, hidden, beta):
            super().__init__()
            self.timesteps = timesteps
            self.hidden = hidden
            self.beta = beta
            self.fc1 = torch.nn.Linear(in_features=64, out_features=self.hidden)
            self.rlif1 = snn.RLeaky(beta=self.beta, linear_features=self.hidden)
            self.fc2 = torch.nn.Linear(in_features=self.hidden, out_features=10)
            self.rlif2 = snn.RLeaky(beta=self.beta, linear_features=10)

        def forward(self, x):
            spk1, mem1 = self.rlif1.init_rleaky()
            spk2, mem2 = self.rlif2.init_rleaky()
            spk_recording = []
            for step in range(self.timesteps):
                spk1, mem1 = self.rlif1(self.fc1(x), spk1, mem1)
                spk2, mem2 = self.rlif2(self.fc2(spk1), spk2, mem2)
                spk_recording.append(spk2)
            return torch.stack(spk_recording)

    SF = submodule(snn, "functional")
    model = Net(timesteps=num_steps, hidden=hidden, beta=0.9)
    loss_function = SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)
    optimizer = torch.optim.Adam(params=model.parameters(), lr=1e-3)
    batches = digits_batches(64, n_batches + 1)
    loss_hist = []
    for feature, label in batches[:-1]:
        spk = model(feature.flatten(1))
        loss_val = loss_function(spk, label)
        optimizer.zero_grad()
        loss_val.backward()
        optimizer.step()
        loss_hist.append(loss_val.item())
    model.eval()
    with torch.no_grad():
        feature, label = batches[-1]
        spk = model(feature.flatten(1))
        acc = SF.accuracy_rate(spk, label)
    return loss_hist, [acc]


# ------------------------------------------------------------------------------------------
# The snnTorch documentation's nn.Sequential example: Flatten, Linear, Leaky(init_hidden), Linear,
# Leaky(init_hidden, output=True), stepped by `spk_out, mem_out = net(data)`.
# ------------------------------------------------------------------------------------------
def docs_sequential(snn, n_batches=3, num_steps=10):
    utils, SF = submodule(snn, "utils"), submodule(snn, "functional")
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, 1000),
        snn.Leaky(beta=0.9, init_hidden=True),
        nn.Linear(1000, 10),
        snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=5e-4)
    loss_fn = SF.ce_rate_loss()
    loss_hist, acc_hist = [], []
    for data, targets in digits_batches(32, n_batches, image=True):
        utils.reset(net)
        spk_rec = []
        for step in range(num_steps):
            spk_out, mem_out = net(data)  # noqa: RUF059  (the documentation's code)
            spk_rec.append(spk_out)
        spk_rec = torch.stack(spk_rec)
        loss_val = loss_fn(spk_rec, targets)
        optimizer.zero_grad()
        loss_val.backward()
        optimizer.step()
        loss_hist.append(loss_val.item())
        acc_hist.append(SF.accuracy_rate(spk_rec, targets))
    return loss_hist, acc_hist


# ------------------------------------------------------------------------------------------
# Tutorial 6: a convolutional SNN of init_hidden neurons with fast-sigmoid surrogates,
# utils.reset per batch, SF.ce_rate_loss and SF.accuracy_rate (8x8 digits: padded 3x3 convolutions,
# pixel values 0..8 so that a net this small fires within a few batches).
# ------------------------------------------------------------------------------------------
def tutorial_6(snn, n_batches=4, num_steps=8):
    surrogate, utils, SF = submodule(snn, "surrogate"), submodule(snn, "utils"), submodule(snn, "functional")
    torch.manual_seed(0)
    spike_grad = surrogate.fast_sigmoid(slope=25)
    beta = 0.5
    net = nn.Sequential(
        nn.Conv2d(1, 12, 3, padding=1),
        nn.MaxPool2d(2),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True),
        nn.Conv2d(12, 64, 3, padding=1),
        nn.MaxPool2d(2),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True),
        nn.Flatten(),
        nn.Linear(64 * 2 * 2, 10),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True, output=True),
    )

    def forward_pass(net, num_steps, data):
        mem_rec, spk_rec = [], []
        utils.reset(net)
        for step in range(num_steps):
            spk_out, mem_out = net(data)
            spk_rec.append(spk_out)
            mem_rec.append(mem_out)
        return torch.stack(spk_rec), torch.stack(mem_rec)

    loss_fn = SF.ce_rate_loss()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.9, 0.999))
    loss_hist, acc_hist = [], []
    for data, targets in digits_batches(32, n_batches, image=True, scale=0.5):
        net.train()
        spk_rec, _ = forward_pass(net, num_steps, data)
        loss_val = loss_fn(spk_rec, targets)
        optimizer.zero_grad()
        loss_val.backward()
        optimizer.step()
        loss_hist.append(loss_val.item())
        net.eval()
        acc_hist.append(SF.accuracy_rate(spk_rec, targets))
    return loss_hist, acc_hist


TUTORIALS = {
    "tutorial_5": tutorial_5,
    "tutorial_6": tutorial_6,
    "docs_sequential": docs_sequential,
    "quickstart_sequential": lambda snn: quickstart_sequential(snn, num_steps=10),
    "regression_1": regression_1,
    "regression_2": regression_2,
}


@pytest.mark.parametrize("name", list(TUTORIALS))
def test_tutorial_matches_snntorch(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        losses_ref, acc_ref = TUTORIALS[name](snntorch)
    losses, acc = TUTORIALS[name](fsnn)
    assert_close(torch.tensor(losses), torch.tensor(losses_ref), 1e-5, 1e-5, f"{name} losses per iteration")
    assert acc == acc_ref, f"{name} accuracies {acc} != {acc_ref}"
    assert losses[-1] < losses[0], f"{name} did not train: {losses}"


def test_quickstart_sequential_on_triton_kernels(monkeypatch):
    """The same unchanged code on the Triton kernels (interpreter; TRITONSNN_BACKEND picks them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        losses_ref, acc_ref = quickstart_sequential(snntorch, n_batches=1, num_steps=4)
    monkeypatch.setenv("TRITONSNN_BACKEND", "triton")
    losses, acc = quickstart_sequential(fsnn, n_batches=1, num_steps=4)
    assert_close(torch.tensor(losses), torch.tensor(losses_ref), 1e-5, 1e-5, "losses")
    assert acc == acc_ref
