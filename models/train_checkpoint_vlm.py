#!/usr/bin/env python3
"""Train cap's checkpoint vision-language model and export it to ONNX.

The model answers "does this statement hold in this image?" for statements parsed into
a relation over object descriptions (colour + kind), e.g. on(red block, blue plate).

Inputs (ONNX):
  image  float32 [N, 3, 112, 112]  RGB in 0..1 (the 224x224 render, averaged 2x2)
  query  float32 [N, Q]            one-hots: relation | subject colour | subject kind
                                   | object colour | object kind (order in the card)
Output:
  logit  float32 [N]               > 0 means the statement holds; sigmoid = confidence

Data come from `cap dataset` (labelled from simulator state); the held-out split is a
different seed stream (scenes and placements never seen in training).

  cap dataset --out data/train --images 20000 --seed 1
  cap dataset --out data/test  --images 3000  --seed 1000003
  python models/train_checkpoint_vlm.py --train data/train --test data/test --out models

Runs offline on a CPU (torch); not part of CI. Writes models/checkpoint_vlm.onnx and
models/checkpoint_vlm.json (the card the Rust inspector reads: vocabulary, input
layout, sha256, held-out accuracy per relation).
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


def evaluate(net, images, idx, qs, labels, rels, nrel, bs=512):
    net.eval()
    correct = np.zeros(nrel)
    total = np.zeros(nrel)
    probs = np.zeros(len(labels), np.float32)
    with torch.no_grad():
        for s in range(0, len(labels), bs):
            sl = slice(s, s + bs)
            img = to_tensor(images[idx[sl]])
            logit = net(img, torch.from_numpy(qs[sl]))
            p = torch.sigmoid(logit).numpy()
            probs[sl] = p
            ok = (p > 0.5) == (labels[sl] > 0.5)
            np.add.at(correct, rels[sl], ok)
            np.add.at(total, rels[sl], 1)
    net.train()
    return correct, total, probs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--out", default="models")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--limit-images", type=int, default=0, help="train on the first N images only (smoke runs)")
    ap.add_argument("--per-image", type=int, default=16, help="statements per image per step")
    ap.add_argument("--batch-images", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--aux", type=float, default=1.0, help="weight of the grounding loss")
    ap.add_argument("--init", help="start from this saved torch state (see --save-state)")
    ap.add_argument("--save-state", help="also save the torch state here, to continue training later")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-confidence", type=float, default=0.75,
                    help="the inspector's cannot_tell threshold (cap-vision DEFAULT_MIN_CONFIDENCE), "
                         "for the card's answered accuracy and coverage per relation")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    torch.set_num_threads(a.threads)

    meta, images, idx, qs, labels, rels, masks, slots = load(a.train)
    tmeta, timages, tidx, tqs, tlabels, trels, _, _ = load(a.test, meta)
    nrel = len(meta["relations"])
    if a.limit_images:
        keep = idx < a.limit_images
        idx, qs, labels, rels, slots = idx[keep], qs[keep], labels[keep], rels[keep], slots[keep]
        meta = dict(meta, images=a.limit_images)
    print(f"train: {meta['images']} images, {len(labels)} statements; "
          f"test: {tmeta['images']} images, {len(tlabels)} statements")
    by_image = [[] for _ in range(meta["images"])]
    for i, im in enumerate(idx):
        by_image[im].append(i)
    net = Net(qs.shape[1], meta["image_size"], nrel, len(meta["colors"]), len(meta["kinds"]))
    print("parameters:", sum(p.numel() for p in net.parameters()))
    if a.init:
        net.load_state_dict(torch.load(a.init))
        print("continuing from", a.init)
    if a.epochs == 0 and not a.init:
        sys.exit("--epochs 0 evaluates and exports saved weights: give --init STATE")
    steps_per_epoch = math.ceil(meta["images"] / a.batch_images)
    if a.epochs > 0:
        opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
        total_steps = a.epochs * steps_per_epoch
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=total_steps, pct_start=0.15)
    t0 = time.time()
    for epoch in range(a.epochs):
        order = np.random.permutation(meta["images"])
        run_loss = 0.0
        for step in range(steps_per_epoch):
            ims = order[step * a.batch_images:(step + 1) * a.batch_images]
            if len(ims) == 0:
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
            loss = F.binary_cross_entropy_with_logits(logit, torch.from_numpy(labels[sel]))
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
        c, t, _ = evaluate(net, timages, tidx, tqs, tlabels, trels, nrel)
        print(f"epoch {epoch + 1}/{a.epochs}  loss {run_loss / steps_per_epoch:.4f}  "
              f"held-out acc {c.sum() / t.sum():.4f}  ({time.time() - t0:.0f} s)", flush=True)

    c, t, probs = evaluate(net, timages, tidx, tqs, tlabels, trels, nrel)
    # What the inspector answers: holds/does-not-hold at confidence >= min_confidence,
    # cannot_tell below. Its accuracy on the statements it answers, and how many it answers.
    conf = np.maximum(probs, 1 - probs)
    right = (probs > 0.5) == (tlabels > 0.5)
    answered = conf >= a.min_confidence

    def selective(mask):
        ans = answered & mask
        return (round(float(right[ans].mean()), 4) if ans.any() else 0.0,
                round(float(ans.sum() / max(mask.sum(), 1)), 4))

    per = {}
    for i, r in enumerate(meta["relations"]):
        acc, cov = selective(trels == i)
        per[r] = {"accuracy": round(float(c[i] / max(t[i], 1)), 4), "statements": int(t[i]),
                  "answered_accuracy": acc, "answered": cov}
    acc_answered, coverage = selective(np.ones(len(tlabels), bool))

    os.makedirs(a.out, exist_ok=True)
    if a.save_state:
        torch.save(net.state_dict(), a.save_state)
    onnx_path = os.path.join(a.out, "checkpoint_vlm.onnx")
    net.eval()
    s = meta["image_size"]
    torch.onnx.export(
        net, (torch.zeros(1, 3, s, s), torch.zeros(1, qs.shape[1])), onnx_path,
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
            "query": f"float32 [N, {qs.shape[1]}]: one-hots relation | subject colour | subject kind | object colour | object kind",
        },
        "output": "logit float32 [N]; sigmoid(logit) = P(statement holds)",
        "image_size": s,
        "relations": meta["relations"],
        "colors": meta["colors"],
        "kinds": meta["kinds"],
        "parameters": sum(p.numel() for p in net.parameters()),
        "training": {
            "generator": meta["generator"],
            "train_seed": meta["seed"], "train_images": meta["images"], "train_statements": int(len(labels)),
            "epochs": a.epochs, "torch": torch.__version__,
        },
        "held_out": {
            "seed": tmeta["seed"], "images": tmeta["images"], "statements": int(len(tlabels)),
            "accuracy": round(float(c.sum() / t.sum()), 4),
            "per_relation": per,
            "min_confidence": a.min_confidence,
            "answered_accuracy": acc_answered,
            "answered": coverage,
        },
    }
    json.dump(card, open(os.path.join(a.out, "checkpoint_vlm.json"), "w"), indent=2)
    print(json.dumps(card["held_out"], indent=2))
    print("wrote", onnx_path, "sha256", sha)


if __name__ == "__main__":
    main()
