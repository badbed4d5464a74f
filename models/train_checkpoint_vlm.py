#!/usr/bin/env python3
"""Train cap's checkpoint vision-language model, calibrate it, and export it to ONNX.

The model answers "does this statement hold in this image?" for statements parsed into
a relation over object descriptions (colour + kind), e.g. on(red block, blue plate).

Inputs (ONNX):
  image  float32 [N, 3, 112, 112]  RGB in 0..1 (the 224x224 render, averaged 2x2)
  query  float32 [N, Q]            one-hots: relation | subject colour | subject kind
                                   | object colour | object kind (order in the card)
Output:
  logit  float32 [N]               > 0 means the statement holds; sigmoid = calibrated
                                   confidence (the per-relation temperature is in the graph)

Data come from `cap dataset` (domain-randomised, labelled from simulator state):

  cap dataset --out data/train --images 24000 --seed 1
  cap dataset --out data/nominal --family nominal --images 8000 --seed 3   # the shipped set-up
  cap dataset --out data/val   --images 2000  --seed 2          # calibration
  cap dataset --out data/test  --images 2000  --seed 1000003    # in-distribution test
  cap dataset --out data/ood-camera --family ood-camera --images 1500 --seed 2000001
  cap dataset --out data/ood-size   --family ood-size   --images 1500 --seed 2000002
  cap dataset --out data/ood-table  --family ood-table  --images 1500 --seed 2000003
  python models/train_checkpoint_vlm.py --train data/train --val data/val --test data/test \
      --ood data/ood-camera data/ood-size data/ood-table --out models

(models/README.md has the exact runs behind the embedded models/checkpoint_vlm.onnx.)

After training, one temperature per relation is fitted on the validation split
(minimum negative log-likelihood), and each relation's cannot_tell threshold is the
lowest confidence at which the calibrated answers on the validation split are right
at least --target of the time. Both go into the graph and the card. Every split is then
scored with the inspector's own rule (confidence quantised to 0.001, answered when at
or above the relation's threshold): `cap dataset --eval DIR` reproduces those figures
from the ONNX file alone.

Runs offline on a CPU (torch); not part of CI. Writes models/checkpoint_vlm.onnx and
models/checkpoint_vlm.json (the card the Rust inspector reads).
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load(dirname, meta_ref=None):
    meta = json.load(open(os.path.join(dirname, "meta.json")))
    if meta_ref is not None:
        for k in ("relations", "colors", "kinds", "image_size"):
            assert meta[k] == meta_ref[k], f"{dirname}: {k} differs from the training set"
    meta.setdefault("family", "train")
    s = meta["image_size"]
    images = np.fromfile(os.path.join(dirname, "images.u8"), dtype=np.uint8)
    images = images.reshape(meta["images"], s, s, 3)
    rel = {r: i for i, r in enumerate(meta["relations"])}
    col = {c: i for i, c in enumerate(meta["colors"])}
    kind = {k: i for i, k in enumerate(meta["kinds"])}
    R, C, K = len(rel), len(col), len(kind)
    qdim = R + 2 * (C + K)
    m = meta["mask_size"]
    masks = np.fromfile(os.path.join(dirname, "masks.u8"), dtype=np.uint8).reshape(meta["images"], m, m)
    objects = [json.loads(l) for l in open(os.path.join(dirname, "objects.jsonl"))]
    idx, qs, labels, rels, slots = [], [], [], [], []
    for line in open(os.path.join(dirname, "samples.jsonl")):
        s_ = json.loads(line)
        q = np.zeros(qdim, dtype=np.float32)
        q[rel[s_["relation"]]] = 1
        for slot, d in enumerate((s_["subject"], s_["object"])):
            if d is None:
                continue
            off = R + slot * (C + K)
            if d[0]:
                q[off + col[d[0]]] = 1
            q[off + C + kind[d[1]]] = 1
        objs = objects[s_["image"]]
        slot = []
        for d in (s_["subject"], s_["object"]):
            k = -1
            if d is not None and d[1] != "table":
                k = next((i for i, o in enumerate(objs) if o[0] == d[0] and o[1] == d[1]), -1)
            slot.append(k)
        slots.append(slot)
        idx.append(s_["image"])
        qs.append(q)
        labels.append(1.0 if s_["label"] else 0.0)
        rels.append(rel[s_["relation"]])
    return (meta, images, np.array(idx), np.stack(qs), np.array(labels, np.float32), np.array(rels),
            masks, np.array(slots, dtype=np.int64))


def concat(parts):
    """Several loaded splits as one (image indices offset)."""
    if len(parts) == 1:
        return parts[0]
    meta = dict(parts[0][0])
    meta["images"] = sum(p[0]["images"] for p in parts)
    meta["seed"] = [p[0]["seed"] for p in parts]
    meta["family"] = "+".join(p[0].get("family", "train") for p in parts)
    offsets = np.cumsum([0] + [p[0]["images"] for p in parts[:-1]])
    return (meta,
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] + o for p, o in zip(parts, offsets)]),
            np.concatenate([p[3] for p in parts]),
            np.concatenate([p[4] for p in parts]),
            np.concatenate([p[5] for p in parts]),
            np.concatenate([p[6] for p in parts]),
            np.concatenate([p[7] for p in parts]))


class FiLMConv(nn.Module):
    def __init__(self, cin, cout, qemb, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
        self.film = nn.Linear(qemb, 2 * cout)

    def forward(self, x, e):
        x = self.conv(x)
        g, b = self.film(e).chunk(2, dim=1)
        return F.relu(x * (1 + g[:, :, None, None]) + b[:, :, None, None])


class Net(nn.Module):
    """Grounding, then relating.

    A query-independent encoder gives a 28x28 feature map. Each object description
    (colour + kind one-hots) is embedded and matched against every cell: a "where is
    it" map for the subject and one for the object. A small relation head, FiLM-
    conditioned on the whole query, reads both maps, a few query-independent feature
    channels (the gripper, the table) and the image coordinates; explicit map
    statistics (mass, centroid, peak) go to the last layer, so visibility, left/right
    and near are easy to read off. Inputs are RGB in 0..1; the model centres them.
    """

    def __init__(self, qdim, size, nrel, ncol, nkind):
        super().__init__()
        self.nrel, self.nd = nrel, ncol + nkind
        self.enc = nn.Sequential(
            nn.Conv2d(3, 24, 3, stride=2, padding=1), nn.BatchNorm2d(24), nn.ReLU(),
            nn.Conv2d(24, 48, 3, stride=2, padding=1), nn.BatchNorm2d(48), nn.ReLU(),
            nn.Conv2d(48, 48, 3, stride=1, padding=1), nn.BatchNorm2d(48), nn.ReLU(),
        )
        self.desc = nn.Sequential(nn.Linear(self.nd, 48), nn.ReLU(), nn.Linear(48, 48))
        self.key = nn.Conv2d(48, 48, 1)
        self.stuff = nn.Sequential(nn.Conv2d(48, 8, 1), nn.BatchNorm2d(8), nn.ReLU())
        self.map_bias = nn.Parameter(torch.tensor(-2.0))
        self.q = nn.Sequential(nn.Linear(qdim, 48), nn.ReLU(), nn.Linear(48, 48), nn.ReLU())
        self.h1 = FiLMConv(2 + 8 + 2, 32, 48, 2)
        self.h2 = FiLMConv(32, 32, 48, 1)
        self.out = nn.Sequential(nn.Linear(64 + 48 + 10, 64), nn.ReLU(), nn.Linear(64, 1))
        r = size // 4
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, r), torch.linspace(-1, 1, r), indexing="ij")
        self.register_buffer("coords", torch.stack([xs, ys])[None])

    def encode(self, image):
        f = self.enc((image - 0.5) * 4.0)
        return torch.cat([self.key(f), self.stuff(f)], dim=1)

    def where_logits(self, keys, d):
        e = self.desc(d)
        return (keys * e[:, :, None, None]).sum(1, keepdim=True) / 7.0 + self.map_bias

    def where(self, keys, d):
        present = (d.sum(1) > 0).float()[:, None, None, None]
        return torch.sigmoid(self.where_logits(keys, d)) * present

    def stats(self, m):
        mass = m.sum(dim=(2, 3)) + 1e-3
        cx = (m * self.coords[:, :1]).sum(dim=(2, 3)) / mass
        cy = (m * self.coords[:, 1:]).sum(dim=(2, 3)) / mass
        return mass.log(), cx, cy

    def head(self, feat, query):
        e = self.q(query)
        subj = query[:, self.nrel:self.nrel + self.nd]
        obj = query[:, self.nrel + self.nd:]
        keys, stuff = feat[:, :48], feat[:, 48:]
        ms, mo = self.where(keys, subj), self.where(keys, obj)
        n = feat.shape[0]
        x = torch.cat([ms, mo, stuff, self.coords.expand(n, -1, -1, -1)], dim=1)
        x = self.h2(self.h1(x, e), e)
        pooled = torch.cat([x.amax(dim=(2, 3)), x.mean(dim=(2, 3))], dim=1)
        a, ax, ay = self.stats(ms)
        b, bx, by = self.stats(mo)
        geo = torch.cat([a, ax, ay, b, bx, by, ax - bx, ay - by,
                         (ax - bx).abs() + (ay - by).abs(), ms.amax(dim=(2, 3))], dim=1)
        return self.out(torch.cat([pooled, e, geo], dim=1)).squeeze(1)

    def forward(self, image, query):
        return self.head(self.encode(image), query)

    def grounding_logits(self, feat, query):
        keys = feat[:, :48]
        subj = query[:, self.nrel:self.nrel + self.nd]
        obj = query[:, self.nrel + self.nd:]
        return self.where_logits(keys, subj), self.where_logits(keys, obj)


def to_tensor(images):
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0


def logits_of(net, data, bs=64):
    """Raw logits for every statement of a split (each image encoded once)."""
    _, images, idx, qs, _, _, _, _ = data
    net.eval()
    out = np.zeros(len(idx), np.float32)
    order = np.argsort(idx, kind="stable")
    starts = np.searchsorted(idx[order], np.arange(images.shape[0] + 1))
    with torch.no_grad():
        for s in range(0, images.shape[0], bs):
            e = min(s + bs, images.shape[0])
            rows = order[starts[s]:starts[e]]
            if len(rows) == 0:
                continue
            feat = net.encode(to_tensor(images[s:e]))
            local = torch.from_numpy(idx[rows] - s)
            out[rows] = net.head(feat[local], torch.from_numpy(qs[rows])).numpy()
    net.train()
    return out


def fit_temperature(logit, label):
    """The temperature minimising the negative log-likelihood (a 1-D search)."""
    z = torch.from_numpy(logit).double()
    y = torch.from_numpy(label).double()
    best_t, best = 1.0, float("inf")
    for t in np.exp(np.linspace(np.log(0.25), np.log(8.0), 200)):
        nll = F.binary_cross_entropy_with_logits(z / t, y).item()
        if nll < best:
            best_t, best = float(t), nll
    return best_t


def quantise(p):
    """As cap_core::trace::quantise_confidence: the inspector decides on thousandths."""
    return np.floor(p * 1000.0 + 0.5) / 1000.0


def outcomes(logit, label, rels, temps, thresholds, relations):
    t = np.array([temps[r] for r in relations])[rels]
    p = quantise(1.0 / (1.0 + np.exp(-logit / t)))
    conf = np.maximum(p, 1.0 - p)
    right = (p >= 0.5) == (label > 0.5)
    thr = np.array([thresholds[r] for r in relations])[rels]
    return conf, right, conf >= thr


def ece(conf, right, bins=10):
    """As cap-vision's dataset::eval: equal-width bins over [0.5, 1]."""
    b = np.minimum(((conf - 0.5) * 2 * bins).astype(int), bins - 1)
    total = 0.0
    for k in range(bins):
        m = b == k
        if m.any():
            total += m.mean() * abs(right[m].mean() - conf[m].mean())
    return float(total)


def score(conf, right, answered):
    n = len(conf)
    if n == 0:
        return {"statements": 0}
    a = answered.sum()
    return {
        "statements": int(n),
        "accuracy": round(float(right.mean()), 4),
        "answered": round(float(a / n), 4),
        "answered_accuracy": round(float(right[answered].mean()) if a else 0.0, 4),
        "confident_wrong": round(float((answered & ~right & (conf >= 0.9)).sum() / max(a, 1)), 4),
        "ece": round(ece(conf, right), 4),
    }


def split_report(name, data, logit, temps, thresholds, relations):
    meta, _, _, _, label, rels, _, _ = data
    conf, right, answered = outcomes(logit, label, rels, temps, thresholds, relations)
    per = {r: score(conf[rels == i], right[rels == i], answered[rels == i])
           for i, r in enumerate(relations) if (rels == i).any()}
    return {"dir": name, "family": meta.get("family", "train"), "seed": meta["seed"],
            "images": meta["images"], "per_relation": per, "all": score(conf, right, answered)}


def thresholds_from(conf, right, rels, relations, target):
    """Per relation, the lowest confidence whose answers are right >= target of the time."""
    out = {}
    for i, r in enumerate(relations):
        m = rels == i
        chosen = 0.99
        for t in np.arange(0.50, 0.995, 0.01):
            a = m & (conf >= t)
            if a.sum() >= 20 and right[a].mean() >= target:
                chosen = float(round(t, 2))
                break
        out[r] = chosen
    return out


class Calibrated(nn.Module):
    """The network with each relation's temperature applied to its logit."""

    def __init__(self, net, temps):
        super().__init__()
        self.net = net
        self.register_buffer("inv_t", torch.tensor([1.0 / t for t in temps], dtype=torch.float32))

    def forward(self, image, query):
        r = self.inv_t.shape[0]
        return self.net(image, query) * (query[:, :r] * self.inv_t).sum(1)


def balance_weights(meta, qs, labels, rels, cap):
    """Per-statement loss weights that give true and false the same total weight within
    each (relation, kind) bucket: the receptacle's kind for on/in, the held object's
    kind for holding, the relation alone otherwise. Capped at `cap` either way (0: all
    ones). The calibration split keeps the generator's own mix, so temperatures and
    thresholds are fitted on what the inspector meets."""
    w = np.ones(len(labels), np.float32)
    if cap <= 0:
        return w
    R, C, K = len(meta["relations"]), len(meta["colors"]), len(meta["kinds"])
    names = meta["relations"]
    subj_kind = qs[:, R + C:R + C + K].argmax(1)
    obj_kind = qs[:, R + 2 * C + K:R + 2 * (C + K)].argmax(1)
    key = rels * 100
    for r, name in enumerate(names):
        if name in ("on", "in"):
            key = np.where(rels == r, key + 1 + obj_kind, key)
        elif name == "holding":
            key = np.where(rels == r, key + 1 + subj_kind, key)
    for k in np.unique(key):
        m = key == k
        pos = float(labels[m].sum())
        neg = float(m.sum()) - pos
        if pos == 0 or neg == 0:
            continue
        n = pos + neg
        w[m & (labels > 0.5)] = min(cap, max(1 / cap, n / (2 * pos)))
        w[m & (labels < 0.5)] = min(cap, max(1 / cap, n / (2 * neg)))
    return w


def train(net, a, data, log):
    meta, images, idx, qs, labels, rels, masks, slots = data
    by_image = [[] for _ in range(meta["images"])]
    for i, im in enumerate(idx):
        by_image[im].append(i)
    weights = balance_weights(meta, qs, labels, rels, a.balance)
    steps_per_epoch = math.ceil(meta["images"] / a.batch_images)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.epochs * steps_per_epoch,
                                                pct_start=0.15)
    t0 = time.time()
    for epoch in range(a.epochs):
        order = np.random.permutation(meta["images"])
        run_loss = 0.0
        for step in range(steps_per_epoch):
            ims = [im for im in order[step * a.batch_images:(step + 1) * a.batch_images] if by_image[im]]
            if not ims:
                continue
            feat = net.encode(to_tensor(images[ims]))
            rows, sel = [], []
            for j, im in enumerate(ims):
                cand = by_image[im]
                pick = np.random.choice(cand, size=min(a.per_image, len(cand)), replace=False)
                rows.extend([j] * len(pick))
                sel.extend(pick)
            rows = torch.tensor(rows)
            sel = np.array(sel)
            q = torch.from_numpy(qs[sel])
            logit = net.head(feat[rows], q)
            loss = F.binary_cross_entropy_with_logits(logit, torch.from_numpy(labels[sel]),
                                                      weight=torch.from_numpy(weights[sel]))
            # Grounding supervision from the simulator's segmentation (training only):
            # the subject/object maps should light up exactly where that object is.
            gs, go = net.grounding_logits(feat[rows], q)
            img_masks = torch.from_numpy(masks[ims][rows.numpy()].astype(np.int64))
            for g, k in ((gs, slots[sel, 0]), (go, slots[sel, 1])):
                k = torch.from_numpy(k)
                ok = k >= 0
                if ok.any():
                    target = ((img_masks[ok] >> k[ok][:, None, None]) & 1).float()
                    loss = loss + a.aux * F.binary_cross_entropy_with_logits(
                        g[ok][:, 0], target, pos_weight=torch.tensor(30.0))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            run_loss += loss.item()
            if (step + 1) % 50 == 0:
                print(f"  epoch {epoch + 1} step {step + 1}/{steps_per_epoch}  loss {run_loss / (step + 1):.4f}  "
                      f"({time.time() - t0:.0f} s)", flush=True)
        log(epoch, run_loss / steps_per_epoch, time.time() - t0)
    return time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True, nargs="+", help="one or more training splits")
    ap.add_argument("--val", required=True, help="calibration split (same distribution as --train)")
    ap.add_argument("--test", required=True, help="in-distribution test split")
    ap.add_argument("--ood", nargs="*", default=[], help="out-of-distribution splits (cap dataset --family)")
    ap.add_argument("--out", default="models")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--limit-images", type=int, default=0, help="train on the first N images only (smoke runs)")
    ap.add_argument("--per-image", type=int, default=16, help="statements per image per step")
    ap.add_argument("--batch-images", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--balance", type=float, default=4.0,
                    help="weight true and false equally per (relation, kind), each weight capped at this (0: off)")
    ap.add_argument("--aux", type=float, default=1.0, help="weight of the grounding loss")
    ap.add_argument("--init", help="start from this saved torch state (see --save-state)")
    ap.add_argument("--init-partial", help="start from the tensors of this state whose shapes match "
                                           "(an earlier model with another vocabulary)")
    ap.add_argument("--save-state", help="also save the torch state here, to continue training later")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target", type=float, default=0.98,
                    help="answered accuracy each relation's threshold is chosen for, on --val")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    torch.set_num_threads(a.threads)

    first = load(a.train[0])
    data = concat([first] + [load(d, first[0]) for d in a.train[1:]])
    meta = data[0]
    val = load(a.val, meta)
    test = load(a.test, meta)
    oods = [(d, load(d, meta)) for d in a.ood]
    relations = meta["relations"]
    if a.limit_images:
        m, images, idx, qs, labels, rels, masks, slots = data
        keep = idx < a.limit_images
        data = (dict(m, images=a.limit_images), images, idx[keep], qs[keep], labels[keep], rels[keep],
                masks, slots[keep])
        meta = data[0]
    print(f"train: {meta['images']} images, {len(data[4])} statements; val {len(val[4])}, "
          f"test {len(test[4])}, " + ", ".join(f"{d} {len(o[4])}" for d, o in oods))
    net = Net(data[3].shape[1], meta["image_size"], len(relations), len(meta["colors"]), len(meta["kinds"]))
    print("parameters:", sum(p.numel() for p in net.parameters()))
    if a.init:
        net.load_state_dict(torch.load(a.init))
        print("continuing from", a.init)
    elif a.init_partial:
        old = torch.load(a.init_partial)
        mine = net.state_dict()
        same = {k: v for k, v in old.items() if k in mine and mine[k].shape == v.shape}
        mine.update(same)
        net.load_state_dict(mine)
        print(f"initialised {len(same)} of {len(mine)} tensors from {a.init_partial}")
    if a.epochs == 0 and not a.init:
        sys.exit("--epochs 0 calibrates, evaluates and exports saved weights: give --init STATE")

    def log(epoch, loss, secs):
        z = logits_of(net, val)
        acc = ((z > 0) == (val[4] > 0.5)).mean()
        print(f"epoch {epoch + 1}/{a.epochs}  loss {loss:.4f}  val acc {acc:.4f}  ({secs:.0f} s)", flush=True)

    secs = train(net, a, data, log) if a.epochs > 0 else 0.0
    if a.save_state:
        torch.save(net.state_dict(), a.save_state)

    # Calibration on the validation split: a temperature per relation, then thresholds.
    zval = logits_of(net, val)
    _, _, _, _, yval, rval, _, _ = val
    temps, ones = {}, {}
    for i, r in enumerate(relations):
        m = rval == i
        temps[r] = round(fit_temperature(zval[m], yval[m]), 4) if m.sum() >= 20 else 1.0
        ones[r] = 1.0
    half = {r: 0.5 for r in relations}
    conf_raw, right_raw, _ = outcomes(zval, yval, rval, ones, half, relations)
    conf_cal, right_cal, _ = outcomes(zval, yval, rval, temps, half, relations)
    thresholds = thresholds_from(conf_cal, right_cal, rval, relations, a.target)
    calibration = {
        "method": "temperature scaling per relation (NLL on the validation split), in the ONNX graph",
        "validation": {"dir": a.val, "seed": val[0]["seed"], "images": val[0]["images"],
                       "statements": int(len(yval))},
        "temperature": temps,
        "ece_before": round(ece(conf_raw, right_raw), 4),
        "ece_after": round(ece(conf_cal, right_cal), 4),
        "target_answered_accuracy": a.target,
        "min_confidence": thresholds,
    }
    print(json.dumps(calibration, indent=2))
    splits = {"in_distribution": split_report(a.test, test, logits_of(net, test), temps, thresholds, relations)}
    for d, o in oods:
        splits[o[0].get("family", d)] = split_report(d, o, logits_of(net, o), temps, thresholds, relations)

    os.makedirs(a.out, exist_ok=True)
    onnx_path = os.path.join(a.out, "checkpoint_vlm.onnx")
    net.eval()
    wrapped = Calibrated(net, [temps[r] for r in relations]).eval()
    s = meta["image_size"]
    qdim = data[3].shape[1]
    torch.onnx.export(
        wrapped, (torch.zeros(1, 3, s, s), torch.zeros(1, qdim)), onnx_path,
        input_names=["image", "query"], output_names=["logit"],
        dynamic_axes={"image": {0: "n"}, "query": {0: "n"}, "logit": {0: "n"}},
        opset_version=17, dynamo=False,
    )
    sha = hashlib.sha256(open(onnx_path, "rb").read()).hexdigest()
    card = {
        "name": "cap-checkpoint-vlm",
        "file": "checkpoint_vlm.onnx",
        "sha256": sha,
        "licence": "Apache-2.0 (trained by the cap project on its own renders)",
        "inputs": {
            "image": f"float32 [N, 3, {s}, {s}], RGB in 0..1: the 224x224 render of the scene camera averaged 2x2",
            "query": f"float32 [N, {qdim}]: one-hots relation | subject colour | subject kind | object colour | object kind",
        },
        "output": "logit float32 [N]; sigmoid(logit) = calibrated P(statement holds)",
        "image_size": s,
        "relations": relations,
        "colors": meta["colors"],
        "kinds": meta["kinds"],
        "parameters": sum(p.numel() for p in net.parameters()),
        "training": {
            "generator": meta["generator"],
            "train_dir": a.train, "train_seed": meta["seed"], "train_images": meta["images"],
            "train_statements": int(len(data[4])), "epochs": a.epochs, "seconds": round(secs),
            "threads": a.threads, "torch": torch.__version__,
        },
        "calibration": calibration,
        "splits": splits,
    }
    json.dump(card, open(os.path.join(a.out, "checkpoint_vlm.json"), "w"), indent=2)
    for name, rep in splits.items():
        print(name, json.dumps(rep["all"]))
    print("wrote", onnx_path, "sha256", sha)


if __name__ == "__main__":
    main()
