#!/usr/bin/env python3
"""Reference LLaMA training loop in plain PyTorch, for speed and memory comparisons with swift-train.

Reads the model shape and batch_size / seq_len / lr / beta1 / beta2 / weight_decay / grad_clip from a
swift-train JSON run config, trains on the prepared data folder's train.bin (llm.c token shard) with
torch.optim.AdamW in float32, and prints one JSON line: mode, tokens_per_s (measured steps only, after
--warmup untimed steps), peak_rss_bytes (ru_maxrss of this process; import_rss_bytes is the part
reached by importing torch), steps, threads, batch, seq_len, torch.

  python scripts/llama_torch.py configs/llama-small.json --steps 30 --threads 2 [--compile]
"""
import argparse, json, os, resource, sys, time

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("config")
ap.add_argument("--data", help="prepared data folder (default: the config's \"data\")")
ap.add_argument("--steps", type=int, default=30, help="timed optimizer steps")
ap.add_argument("--warmup", type=int, default=5, help="untimed steps first (compilation happens here)")
ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = all cores)")
ap.add_argument("--batch-size", type=int)
ap.add_argument("--seq-len", type=int)
ap.add_argument("--compile", action="store_true", help="torch.compile the model and the optimizer step")
ap.add_argument("--seed", type=int, default=0)
args = ap.parse_args()
threads = args.threads or os.cpu_count()
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(threads)  # before importing torch, so its thread pools start at this size

import numpy as np
import torch
import_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # the baseline of torch itself
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(threads)
cfg = json.load(open(args.config))
m = cfg["model"]
V, d, I = m["vocab_size"], m["hidden_size"], m["intermediate_size"]
L, H = m["num_hidden_layers"], m["num_attention_heads"]
eps, theta = m.get("rms_norm_eps", 1e-6), m.get("rope_theta", 10000.0)
B = args.batch_size or cfg.get("batch_size", 8)
T = args.seq_len or cfg.get("seq_len", 128)
hd = d // H


class RMSNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * self.weight


def rotate_half(x):
    x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
    return torch.cat((-x2, x1), dim=-1)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        lin = lambda i, o: nn.Linear(i, o, bias=False)
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(), RMSNorm()
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = lin(d, d), lin(d, d), lin(d, d), lin(d, d)
        self.gate_proj, self.up_proj, self.down_proj = lin(d, I), lin(d, I), lin(I, d)

    def forward(self, h, cos, sin):
        b, t, _ = h.shape
        a = self.input_layernorm(h)
        q, k, v = (p(a).view(b, t, H, hd).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        # The straightforward attention an eager PyTorch user would write.
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = h + self.o_proj(o.transpose(1, 2).reshape(b, t, d))
        x = self.post_attention_layernorm(h)
        return h + self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Llama(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(V, d)
        self.layers = nn.ModuleList(Block() for _ in range(L))
        self.norm = RMSNorm()
        self.lm_head = nn.Linear(d, V, bias=False)  # untied
        inv_freq = theta ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
        ang = torch.outer(torch.arange(m.get("max_position_embeddings", T), dtype=torch.float32), inv_freq)
        ang = torch.cat((ang, ang), dim=-1)
        self.register_buffer("cos", ang.cos(), persistent=False)
        self.register_buffer("sin", ang.sin(), persistent=False)
        for mod in self.modules():
            if isinstance(mod, (nn.Linear, nn.Embedding)):
                nn.init.normal_(mod.weight, 0.0, 0.02)

    def forward(self, x, y):
        t = x.shape[1]
        cos, sin = self.cos[:t], self.sin[:t]
        h = self.embed_tokens(x)
        for layer in self.layers:
            h = layer(h, cos, sin)
        logits = self.lm_head(self.norm(h))
        return F.cross_entropy(logits.view(-1, V), y.reshape(-1))


def load_shard(path):
    header = np.fromfile(path, dtype="<i4", count=256)
    if header[0] != 20240520 or header[1] != 1:
        sys.exit(f"{path}: not an llm.c token shard (magic {header[0]}, version {header[1]})")
    n = int(header[2])
    if os.path.getsize(path) != 1024 + 2 * n:
        sys.exit(f"{path}: length does not match the token count {n}")
    return np.memmap(path, dtype="<u2", mode="r", offset=1024, shape=(n,))


data_dir = args.data or cfg.get("data", "data/kjv")
if not os.path.isabs(data_dir) and not os.path.exists(data_dir):
    data_dir = os.path.join(os.path.dirname(os.path.abspath(args.config)), "..", data_dir)
tokens = load_shard(os.path.join(data_dir, "train.bin"))


def batch(k):
    # Batch k: windows j = 0..B-1 of T+1 tokens starting at ((k*B + j) * T) mod (n - T - 1).
    starts = [((k * B + j) * T) % (len(tokens) - T - 1) for j in range(B)]
    w = torch.from_numpy(np.stack([tokens[s : s + T + 1] for s in starts]).astype(np.int64))
    return w[:, :-1], w[:, 1:]


torch.manual_seed(args.seed)
model = Llama()
opt = torch.optim.AdamW(model.parameters(), lr=cfg.get("lr", 1e-3),
                        betas=(cfg.get("beta1", 0.9), cfg.get("beta2", 0.999)),
                        weight_decay=cfg.get("weight_decay", 0.0))
clip = cfg.get("grad_clip", 0.0)
fwd = torch.compile(model) if args.compile else model


def opt_step():
    opt.step()


if args.compile:
    opt_step = torch.compile(opt_step, fullgraph=False)  # as in the "compiling the optimizer" recipe


def train_step(k):
    x, y = batch(k)
    loss = fwd(x, y)
    loss.backward()
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt_step()
    opt.zero_grad(set_to_none=True)
    return loss.item()


for k in range(args.warmup):
    train_step(k)
loss, t0 = float("nan"), time.perf_counter()
for k in range(args.warmup, args.warmup + args.steps):
    loss = train_step(k)
seconds = time.perf_counter() - t0

with open("/proc/self/statm") as f:
    final_rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
print(json.dumps({
    "mode": "compiled" if args.compile else "eager",
    "tokens_per_s": args.steps * B * T / max(seconds, 1e-9),
    "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    "import_rss_bytes": import_rss, "final_rss_bytes": final_rss,
    "steps": args.steps, "warmup_steps": args.warmup, "threads": torch.get_num_threads(),
    "batch": B, "seq_len": T, "loss": loss, "torch": torch.__version__,
}))
