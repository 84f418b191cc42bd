"""Without the triton package (no wheels on Windows or macOS) tritonsnn imports and every CPU
feature runs on the PyTorch path; asking for the Triton backend says what to install. Run in a
subprocess whose imports of triton fail, as on such a machine."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import sys

class NoTriton:
    def find_spec(self, name, path, target=None):
        if name == "triton" or name.startswith("triton."):
            raise ImportError("No module named 'triton' (blocked by the test)")

sys.meta_path.insert(0, NoTriton())
for name in [m for m in sys.modules if m == "triton" or m.startswith("triton.")]:
    del sys.modules[name]

import torch
from torch import nn
import tritonsnn as tsnn
from tritonsnn import snntorch as snn

x = torch.rand(6, 2, 4, requires_grad=True)
neurons = [tsnn.Leaky(0.9), tsnn.IF(), tsnn.Lapicque(beta=0.9), tsnn.ALIF(0.9), tsnn.Synaptic(0.5, 0.9),
           tsnn.Alpha(0.9, 0.8), tsnn.RLeaky(0.9, linear_features=4), tsnn.RSynaptic(0.5, 0.9, linear_features=4)]
for neuron in neurons:
    neuron(x).sum().backward()
net = nn.Sequential(nn.Linear(4, 4), tsnn.Leaky(0.9), tsnn.Connection(nn.Linear(4, 3), synapse=tsnn.ExpSynapse(0.8),
                    delay=tsnn.Delay(torch.tensor([0.0, 1.0, 2.5, 1.0]))), tsnn.Leaky(0.9))
with tsnn.memory.pack_spikes():
    out = tsnn.memory.TimeChunked(net, 4)(x)
out.sum().backward()
lif = snn.Leaky(beta=0.9)
spk, mem = lif(x[0], lif.init_leaky())
try:
    tsnn.functional.leaky(x, 0.9, backend="triton")
except RuntimeError as err:
    assert "pip install triton" in str(err), err
else:
    raise AssertionError("backend='triton' ran without triton")
assert not any(m == "triton" or m.startswith("triton.") for m in sys.modules)
print("cpu path without triton: ok")
"""


def test_everything_on_the_cpu_runs_without_triton():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("cpu path without triton: ok")
