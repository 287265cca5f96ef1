#!/usr/bin/env python3
# Writes Tests/OptimizersTests/Fixtures/reference-steps.json: golden parameter trajectories
# from the reference Python implementations of the optimizers, for the Swift optimizer tests.
#
# Inputs are deterministic float32 tensors built from closed formulas (no random numbers),
# and are stored in the JSON too, so the Swift tests only read the file:
#   theta0[i][j] = 0.5 * sin(0.3 + 0.7*i + 1.1*j)                            6x5
#   g_t[i][j]    = cos(0.2 + 0.9*i - 0.4*j + 0.6*t) * (1 + 0.3*i) * 0.1      6x5, t = 1..4
# (each computed in float64 with Python's math module, then rounded to float32).
# Every case starts from theta0, applies g_1..g_4 as the gradients of steps 1..4 with a
# constant learning rate (no scheduler), and records theta after each step. All arrays are
# flat, row-major, float32 values written as Python floats (exact), with a "shape" field.
# Cases whose package or class is missing are listed under "skipped", never approximated.
#
# Generated with these PyPI packages (Python 3.11.7, CPU only):
#   torch==2.15.0  transformers==5.24.0  lion-pytorch==0.2.5  adam-mini==1.1.1  numpy==2.4.6
# Other versions may change the numbers (torch's Muon and Adafactor are recent additions).
#
# To regenerate, from the repository root:
#   python3 -m venv /tmp/refenv
#   /tmp/refenv/bin/pip install torch==2.15.0 transformers==5.24.0 lion-pytorch==0.2.5 \
#       adam-mini==1.1.1 numpy==2.4.6
#   /tmp/refenv/bin/python scripts/optimizer-fixtures.py

import contextlib
import importlib.metadata
import inspect
import io
import json
import math
import os
import platform
import sys

import numpy as np
import torch

OUT = os.path.join("Tests", "OptimizersTests", "Fixtures", "reference-steps.json")
STEPS = 4

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


# ---------------------------------------------------------------- inputs

def f32(x):
    return float(np.float32(x))


def make_theta0(rows=6, cols=5):
    return [[f32(0.5 * math.sin(0.3 + 0.7 * i + 1.1 * j)) for j in range(cols)] for i in range(rows)]


def make_grad(t, rows=6, cols=5):
    return [[f32(math.cos(0.2 + 0.9 * i - 0.4 * j + 0.6 * t) * (1 + 0.3 * i) * 0.1)
             for j in range(cols)] for i in range(rows)]


THETA0 = make_theta0()
GRADS = [make_grad(t) for t in range(1, STEPS + 1)]


def flat(m):
    return [x for row in m for x in row]


def top_left(m, n):
    return [row[:n] for row in m[:n]]


def tensor(m):
    return torch.tensor(m, dtype=torch.float32)


def run(make_optimizer, theta0=THETA0, grads=GRADS):
    """Runs STEPS steps; returns (list of flat thetas, optimizer, captured stdout)."""
    p = torch.nn.Parameter(tensor(theta0))
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        opt = make_optimizer(p)
        thetas = []
        for g in grads:
            p.grad = tensor(g)
            opt.step()
            assert p.dtype == torch.float32
            thetas.append([float(x) for x in p.detach().reshape(-1).tolist()])
    return thetas, opt, p, log.getvalue()


def version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


cases = []
skipped = []


def add(name, optimizer, hyper, thetas, note=None, extra=None, theta0=THETA0, grads=GRADS):
    entry = {"name": name, "optimizer": optimizer, "hyperparameters": hyper}
    if theta0 is not THETA0:
        entry["shape"] = [len(theta0), len(theta0[0])]
        entry["theta0"] = flat(theta0)
        entry["grads"] = [flat(g) for g in grads]
    if note:
        entry["note"] = note
    if extra:
        entry.update(extra)
    entry["theta"] = thetas
    cases.append(entry)


def skip(name, reason):
    skipped.append({"name": name, "reason": reason})
    print(f"skipped {name}: {reason}", file=sys.stderr)


# ---------------------------------------------------------------- a. AdamW

hyper = {"lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.1,
         "amsgrad": False, "maximize": False}
thetas, opt, _, _ = run(lambda p: torch.optim.AdamW(
    [p], lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1))
add("adamw", "torch.optim.AdamW", hyper, thetas,
    note="Decoupled weight decay: theta *= 1 - lr*weight_decay, then the bias-corrected Adam step.")

# ---------------------------------------------------------------- b, c. transformers Adafactor

try:
    from transformers import Adafactor as HFAdafactor
except Exception as e:  # noqa: BLE001
    HFAdafactor = None
    skip("adafactor_hf_preset", f"transformers.Adafactor unavailable: {e!r}")
    skip("adafactor_hf_beta1", f"transformers.Adafactor unavailable: {e!r}")

if HFAdafactor is not None:
    for name, beta1, wd in (("adafactor_hf_preset", None, 0.0), ("adafactor_hf_beta1", 0.9, 0.01)):
        hyper = {"lr": 0.01, "eps": [1e-30, 1e-3], "clip_threshold": 1.0, "decay_rate": -0.8,
                 "beta1": beta1, "weight_decay": wd, "scale_parameter": False,
                 "relative_step": False, "warmup_init": False}
        thetas, _, _, _ = run(lambda p, beta1=beta1, wd=wd: HFAdafactor(
            [p], lr=0.01, eps=(1e-30, 1e-3), clip_threshold=1.0, decay_rate=-0.8, beta1=beta1,
            weight_decay=wd, scale_parameter=False, relative_step=False, warmup_init=False))
        add(name, "transformers.Adafactor", hyper, thetas,
            note="Factored second moment (6x5 matrix). beta2_t = 1 - t^decay_rate; eps[0] is added "
                 "to grad^2 before the row/col means; update RMS-clipped to clip_threshold, times lr; "
                 "with beta1 the clipped lr-scaled update is averaged; weight decay is "
                 "theta -= weight_decay*lr*theta before subtracting the update.")

# ---------------------------------------------------------------- d. torch Adafactor

if hasattr(torch.optim, "Adafactor"):
    ctor = torch.optim.Adafactor
    sig = inspect.signature(ctor.__init__)
    defaults = {k: v.default for k, v in sig.parameters.items()
                if k not in ("self", "params") and v.default is not inspect.Parameter.empty}
    thetas, opt, _, _ = run(lambda p: ctor([p], lr=0.01))
    hyper = {"lr": 0.01, "beta2_decay": defaults["beta2_decay"], "eps": list(defaults["eps"]),
             "eps_resolved": [float(torch.finfo(torch.float32).eps), defaults["eps"][1]],
             "d": defaults["d"], "weight_decay": defaults["weight_decay"],
             "foreach": opt.param_groups[0]["foreach"], "maximize": defaults["maximize"]}
    add("adafactor_torch", "torch.optim.Adafactor", hyper, thetas,
        note="torch.optim.Adafactor(lr=0.01), other arguments default. eps[0]=None resolves to "
             "float32 machine epsilon (eps_resolved). Per step t: beta2 weight t^beta2_decay, "
             "rho_t = min(lr, 1/sqrt(t)), alpha = max(eps2, RMS(theta before decay)) * rho_t; "
             "var = row_var @ col_var / mean(row_var) clamped at eps1^2; update = grad*rsqrt(var) "
             "divided by max(1, RMS(update)/d); theta -= alpha*update.")
else:
    skip("adafactor_torch", f"torch {torch.__version__} has no torch.optim.Adafactor")

# ---------------------------------------------------------------- e, i. lion-pytorch

try:
    from lion_pytorch import Lion
except Exception as e:  # noqa: BLE001
    Lion = None
    skip("lion", f"lion_pytorch.Lion unavailable: {e!r}")

if Lion is not None:
    thetas, _, _, _ = run(lambda p: Lion([p], lr=0.01, betas=(0.9, 0.99), weight_decay=0.1))
    add("lion", "lion_pytorch.Lion", {"lr": 0.01, "betas": [0.9, 0.99], "weight_decay": 0.1,
                                       "use_triton": False, "decoupled_weight_decay": False},
        thetas,
        note="theta *= 1 - lr*wd; theta -= lr*sign(beta1*m + (1-beta1)*g); m = beta2*m + (1-beta2)*g.")

try:
    from lion_pytorch.cautious_lion import Lion as CautiousLion
except Exception as e:  # noqa: BLE001
    CautiousLion = None
    skip("lion_cautious", f"lion_pytorch.cautious_lion.Lion unavailable: {e!r}")

if CautiousLion is not None:
    thetas, _, _, _ = run(lambda p: CautiousLion(
        [p], lr=0.01, betas=(0.9, 0.99), weight_decay=0.0, cautious_factor=0.0))
    add("lion_cautious", "lion_pytorch.cautious_lion.Lion",
        {"lr": 0.01, "betas": [0.9, 0.99], "weight_decay": 0.0, "cautious_factor": 0.0,
         "cautious_wd": False, "decoupled_weight_decay": False},
        thetas,
        note="u = sign(beta1*m + (1-beta1)*g); mask = (u*g > 0); scale = where(mask, 1, "
             "cautious_factor) / max(mean(scale), 1e-5); theta -= lr*u*scale; "
             "m = beta2*m + (1-beta2)*g. The mask compares u with the current gradient g.")

# ---------------------------------------------------------------- f, g. Adam-mini

try:
    from adam_mini import Adam_mini
except Exception as e:  # noqa: BLE001
    Adam_mini = None
    skip("adam_mini_mlp", f"adam_mini.Adam_mini unavailable: {e!r}")
    skip("adam_mini_q", f"adam_mini.Adam_mini unavailable: {e!r}")

if Adam_mini is not None:
    for name, pname, dim, n_heads, th0, grads in (
            ("adam_mini_mlp", "model.layers.0.mlp.up_proj.weight", 5, 1, THETA0, GRADS),
            ("adam_mini_q", "model.layers.0.self_attn.q_proj.weight", 4, 2,
             top_left(THETA0, 4), [top_left(g, 4) for g in GRADS])):
        thetas, opt, p, log = run(lambda p, pname=pname, dim=dim, n_heads=n_heads: Adam_mini(
            [(pname, p)], lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
            dim=dim, n_heads=n_heads), th0, grads)
        state = opt.state[p]
        vmean_shape = list(state["vmean"].shape)
        m_shape = list(state["m"].shape)
        if "q_proj" in pname:
            partition = (f"per head: one second-moment scalar per block of head_numel = "
                         f"dim*dim/n_heads = {opt.head_numel} consecutive row-major elements "
                         f"(vmean shape {vmean_shape}, i.e. {opt.head_numel // len(th0[0])} rows "
                         f"per block)")
        else:
            partition = (f"per output neuron: one second-moment scalar per row "
                         f"(vmean shape {vmean_shape}); dim and n_heads are not used for this block")
        add(name, "adam_mini.Adam_mini",
            {"param_name": pname, "lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8,
             "weight_decay": 0.0, "dim": dim, "n_heads": n_heads, "n_kv_heads": None},
            thetas, theta0=th0, grads=grads,
            note="Per block: vmean = beta2*vmean + (1-beta2)*mean(g^2 over block); m = lerp(m, g, "
                 "1-beta1); theta -= lr * m / (1-beta1^t) / (sqrt(vmean)/sqrt(1-beta2^t) + eps).",
            extra={"partition": partition, "state_m_shape": m_shape,
                   "state_vmean_shape": vmean_shape, "package_log": [line for line in log.strip().splitlines()
                                   if line.startswith("Adam-mini found")]})

# ---------------------------------------------------------------- h. Muon

if hasattr(torch.optim, "Muon"):
    from torch.optim import _muon

    # float32 Newton-Schulz: the source of torch's own _zeropower_via_newtonschulz with the one
    # cast to bfloat16 changed to float32, installed in torch.optim._muon for the fp32 cases.
    src = inspect.getsource(_muon._zeropower_via_newtonschulz)
    cast = "grad.to(dtype=torch.bfloat16, copy=True)"
    assert src.count(cast) == 1 and src.count("bfloat16") == 1, "unexpected torch Muon source"
    namespace = dict(vars(_muon))
    exec(compile(src.replace(cast, "grad.to(dtype=torch.float32, copy=True)"),
                 "<fp32 newton-schulz>", "exec"), namespace)
    zeropower_fp32 = namespace["_zeropower_via_newtonschulz"]
    zeropower_bf16 = _muon._zeropower_via_newtonschulz
    calls = {"fp32": 0}

    def counted_fp32(*args, **kwargs):
        calls["fp32"] += 1
        return zeropower_fp32(*args, **kwargs)

    base = {"lr": 0.02, "momentum": 0.95, "nesterov": True, "weight_decay": 0.0,
            "ns_coefficients": [_muon.DEFAULT_A, _muon.DEFAULT_B, _muon.DEFAULT_C],
            "ns_steps": _muon.DEFAULT_NS_STEPS, "eps": _muon.EPS}
    algo = ("buf = lerp(buf, g, 1-momentum) (i.e. momentum*buf + (1-momentum)*g); nesterov "
            "update = lerp(g, buf, momentum); O = Newton-Schulz(update): X = update (5x6 after "
            "transposing since rows > cols), X /= max(||X||_F, eps), 5 times: A = X X^T, "
            "B = b*A + c*A A, X = a*X + B X; transposed back; theta *= 1 - lr*weight_decay; "
            "theta -= adjusted_lr * O.")
    for name, adjust, precision in (("muon", "original", "bfloat16"),
                                    ("muon_fp32", "original", "float32"),
                                    ("muon_match_rms", "match_rms_adamw", "float32")):
        _muon._zeropower_via_newtonschulz = counted_fp32 if precision == "float32" else zeropower_bf16
        before = calls["fp32"]
        try:
            thetas, _, _, _ = run(lambda p, adjust=adjust: torch.optim.Muon(
                [p], lr=0.02, momentum=0.95, nesterov=True, weight_decay=0.0, adjust_lr_fn=adjust))
        finally:
            _muon._zeropower_via_newtonschulz = zeropower_bf16
        assert calls["fp32"] - before == (STEPS if precision == "float32" else 0)
        adjusted = _muon._adjust_lr(0.02, adjust, torch.Size([6, 5]))
        hyper = dict(base, adjust_lr_fn=adjust, newton_schulz_dtype=precision,
                     adjusted_lr=adjusted)
        if precision == "bfloat16":
            note = ("Unmodified torch.optim.Muon: the Newton-Schulz iteration runs in bfloat16 "
                    "(its result is added to the float32 parameter). " + algo)
        else:
            note = ("torch.optim.Muon with torch.optim._muon._zeropower_via_newtonschulz replaced, "
                    "for this case only, by a copy of torch's own source for that function in "
                    "which the single cast grad.to(dtype=torch.bfloat16) is changed to "
                    "torch.float32; everything else is torch's code path. " + algo)
        adjust_formula = ("lr * sqrt(max(1, rows/cols))" if adjust == "original"
                          else "lr * 0.2 * sqrt(max(rows, cols))")
        add(name, "torch.optim.Muon", hyper, thetas, note=note,
            extra={"adjusted_lr_formula": adjust_formula})
else:
    for name in ("muon", "muon_fp32", "muon_match_rms"):
        skip(name, f"torch {torch.__version__} has no torch.optim.Muon")

# ---------------------------------------------------------------- checks and output

for c in cases:
    th0 = c.get("theta0", flat(THETA0))
    assert len(c["theta"]) == STEPS
    for th in c["theta"]:
        assert len(th) == len(th0) and all(math.isfinite(x) for x in th)
        assert all(f32(x) == x for x in th)
    change = max(abs(a - b) for a, b in zip(c["theta"][-1], th0))
    assert change > 1e-4, f"{c['name']}: theta barely moved ({change})"

doc = {
    "description": "Parameter trajectories of reference optimizer implementations on fixed "
                   "float32 inputs. theta[k] is theta after step k+1, whose gradient is grads[k]. "
                   "Arrays are flat, row-major float32 values.",
    "generator": "scripts/optimizer-fixtures.py",
    "formulas": {
        "theta0": "theta0[i][j] = 0.5*sin(0.3 + 0.7*i + 1.1*j), rounded to float32",
        "grads": "g_t[i][j] = cos(0.2 + 0.9*i - 0.4*j + 0.6*t) * (1 + 0.3*i) * 0.1 for t = 1..4, "
                 "rounded to float32",
    },
    "versions": {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": version("transformers"),
        "lion-pytorch": version("lion-pytorch"),
        "adam-mini": version("adam-mini"),
        "numpy": version("numpy"),
    },
    "dtype": "float32",
    "layout": "row-major",
    "steps": STEPS,
    "shape": [6, 5],
    "theta0": flat(THETA0),
    "grads": [flat(g) for g in GRADS],
    "cases": cases,
    "skipped": skipped,
}


def dump(obj, indent=0):
    """JSON with every list of numbers on one line."""
    pad = "  " * indent
    if isinstance(obj, dict):
        items = [f'{pad}  {json.dumps(k)}: {dump(v, indent + 1).lstrip()}' for k, v in obj.items()]
        return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}" if items else pad + "{}"
    if isinstance(obj, list) and obj and all(isinstance(x, (dict, list)) for x in obj):
        return pad + "[\n" + ",\n".join(dump(x, indent + 1) for x in obj) + "\n" + pad + "]"
    return pad + json.dumps(obj, allow_nan=False)


os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as fh:
    fh.write(dump(doc) + "\n")
json.load(open(OUT))
print(f"wrote {OUT}: {len(cases)} cases, {len(skipped)} skipped")
