#!/usr/bin/env bash
# ~8 min on an H200: the GPU kit's script with the probe of this checkout (bench/kernel_probe.py, ported to the
# record contracts), the conformance, memory and no-sync/CUDA-graph tests in the CUDA tier (configs pinned by
# bench/pin_configs.py). Prepare: mkdir -p .whl &&
# cp ../shared/gpu/* .whl/ && cp bench/kernel_probe.py bench/device_check.sh .whl/; run: bash .whl/device_check.sh
set -u; export PYTHONUNBUFFERED=1; K=$PWD/.whl; O=${OUT:-/tmp/out}; mkdir -p $O; T0=$(date +%s); P=python3
cap(){ local s=$(($1-$(date +%s)+T0)); [ $s -lt 5 ] && s=5; echo $s; }
{ nvidia-smi -L
$P -c "import torch,triton,numpy;print(torch.__version__,torch.version.cuda,triton.__version__,numpy.__version__)"
$P -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site $K/*.whl && echo wheels ok
} 2>&1
export PYTHONPATH=/tmp/site:$PWD:$K
echo "== 1 probe"; timeout $(cap 130) $P $K/kernel_probe.py --out $O/probe.json >$O/probe.log 2>&1
echo rc=$?; grep -v ^regs $O/probe.log|tail -n 70
echo "== 2 CUDA tier"; X=; $P -c "import xdist" 2>/dev/null && X="-n 6"
TRITONSNN_TEST_CUDA=1 timeout $(cap 300) $P -m pytest $X -p bench.pin_configs -p no:cacheprovider -v -rfE \
 tests/test_{lif,synaptic,synapses,delay,stdp,refractory,memory,conformance,gpu_sync,shared_threshold}.py >$O/tier.log 2>&1
echo "rc=$? passed=$(grep -c ' PASSED' $O/tier.log) failed=$(grep -c ' FAILED' $O/tier.log)"
grep -E "^(FAILED|ERROR)|rror|passed|failed" $O/tier.log|tail -n 30
echo "== 3 bench"; B="$P -m bench.gpu --repeats 10 --budget-s 3"
TRITON_PRINT_AUTOTUNING=1 timeout $(cap 440) $B --quick --settings neuron --dtypes fp32 bf16 --providers \
 tritonsnn-triton,snntorch,spikingjelly,tritonsnn-torch --out $O/bench.json >$O/bench.log 2>&1; echo rc=$?
grep -v "│" $O/bench.log | grep -iv autotun|tail -n 40; grep -B3 "best config" $O/bench.log|grep -v "^--"|tail -n 48
echo "== 4 family"; timeout $(cap 480) $B --settings family --providers tritonsnn-triton,snntorch \
 --out $O/family.json >$O/family.log 2>&1; echo rc=$?; grep -E "fwd\+bwd|skip|rror" $O/family.log|tail -n 30
[ "${PIPE:-0}" = 1 ] && timeout $(cap 560) $P $K/kernel_probe.py --stages 3 --no-int64 --elems 65536 262144 \
 1048576 --out $O/pipe.json 2>&1 | grep -v ^regs|tail -n 60
echo "total $(($(date +%s)-T0)) s"
