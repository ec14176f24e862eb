"""How much does the rank of a dot-product model cap Recall@10 on Online Retail II?

An analysis script, not part of the product: it rebuilds the trainer's split (5-core on distinct
pairs, each pair at its last occurrence, same-timestamp events ordered by
splitmix64(splitmix64(user) ^ item), then by row; last pair test, second to last validation), fits
EASE (Steck 2019, "Embarrassingly Shallow Autoencoders") on the items known before the validation
target, and prints validation Recall@10 / NDCG@10 / Recall@50 for
  * EASE on the plain item set (what the issue's reference row measures),
  * EASE scored from a recency-weighted history (0.97 ** age in distinct items, +1 for the newest
    basket): what order and baskets add,
  * that recency-weighted score through B truncated to rank r (SVD): the best any rank-r
    factorisation of this item-item model can do, i.e. what a d-dimensional item space allows.
With --newest N, every user keeps only the N newest known items (EASE is fitted and scored on
them) and only the two EASE lines are printed: how much a short history loses.
Usage: pip install numpy; python3 bench/quality/ease_rank.py [--newest N] [../shared/data/online-retail-ii]
"""
import csv, gzip, sys
import numpy as np

M = (1 << 64) - 1


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & M
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)


def load(path):
    rows = []
    with gzip.open(path, 'rt') as f:
        r = csv.reader(f)
        next(r)
        for i, (u, it, t, *_rest) in enumerate(r):
            rows.append((int(u), int(it), float(t), i))
    ui, iu = {}, {}
    for u, it, _, _ in rows:
        ui.setdefault(u, set()).add(it)
        iu.setdefault(it, set()).add(u)
    changed = True
    while changed:  # 5-core, to a fixed point
        changed = False
        for side, other in ((iu, ui), (ui, iu)):
            drop = [k for k, v in side.items() if len(v) < 5]
            for k in drop:
                for p in side.pop(k):
                    if p in other:
                        other[p].discard(k)
            changed |= bool(drop)
    items = {x: i for i, x in enumerate(sorted(iu))}
    by_user = {}
    for u, it, t, i in rows:
        if u in ui and it in items:
            by_user.setdefault(u, []).append((t, splitmix64(splitmix64(u) ^ it), i, items[it]))
    seqs = [[(e[3], e[0]) for e in sorted(by_user[u])] for u in sorted(ui)]
    return len(items), seqs


def main():
    args = sys.argv[1:]
    keep = None
    if args[:1] == ['--newest']:
        keep, args = int(args[1]), args[2:]
    root = args[0] if args else '../shared/data/online-retail-ii'
    n_items, seqs = load(f'{root}/interactions.csv.gz')
    queries = []  # (target, known items in order with their times)
    for s in seqs:
        last = {}
        for k, (it, _) in enumerate(s):
            last[it] = k
        pairs = sorted((k, it) for it, k in last.items())
        k_valid, target = pairs[-2]
        queries.append((target, [(it, s[k][1]) for k, it in pairs if k < k_valid]))
    users = len(queries)
    X = np.zeros((users, n_items), np.float32)
    W = np.zeros((users, n_items), np.float32)
    for u, (_, known) in enumerate(queries):
        newest = known[-1][1]
        for age, (it, t) in enumerate(list(reversed(known))[:keep]):
            X[u, it] = 1
            W[u, it] = 0.97 ** age + (1.0 if t == newest else 0.0)
    G = X.T @ X
    G[np.diag_indices(n_items)] += 150.0
    P = np.linalg.inv(G)
    B = -P / np.diag(P)
    B[np.diag_indices(n_items)] = 0

    def metrics(S):
        r10 = nd = r50 = 0.0
        for u, (target, known) in enumerate(queries):
            s = S[u].copy()
            s[[it for it, _ in known]] = -np.inf
            top = np.argpartition(-s, 50)[:50]
            top = top[np.argsort(-s[top], kind='stable')]
            hit = np.where(top == target)[0]
            if len(hit):
                r50 += 1
                if hit[0] < 10:
                    r10 += 1
                    nd += 1 / np.log2(hit[0] + 2)
        return f'R@10 {r10 / users:.4f}  NDCG@10 {nd / users:.4f}  R@50 {r50 / users:.4f}'

    print(f'{users} users, {n_items} items; validation targets' + (f'; {keep} newest items' if keep else ''))
    print('EASE (lambda 150), item set             ', metrics(X @ B))
    print('EASE, recency-weighted history          ', metrics(W @ B))
    if keep is not None:
        return
    U, S, Vt = np.linalg.svd(B)
    for r in (64, 128, 256, 512):
        print(f'  ... through B truncated to rank {r:<4}  ', metrics(W @ ((U[:, :r] * S[:r]) @ Vt[:r])))


if __name__ == '__main__':
    main()
