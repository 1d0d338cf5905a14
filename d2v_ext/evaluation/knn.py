"""DINO's weighted k-NN classifier (facebookresearch/dino eval_knn.py), plain torch.

Features are L2-normalised; each test image takes its k most cosine-similar training images,
each votes for its class with weight exp(similarity / T); the class with the most weight wins.
DINO's protocol: k = 20, T = 0.07.
"""
import torch
import torch.nn.functional as F


@torch.no_grad()
def knn_predict(train_features, train_labels, test_features, num_classes, k=20, temperature=0.07, chunk=256):
    """Class scores (N_test, num_classes) from the weighted vote."""
    train = F.normalize(train_features.float(), dim=1)
    test = F.normalize(test_features.float(), dim=1)
    k = min(k, train.size(0))
    out = []
    for i in range(0, test.size(0), chunk):
        sim = test[i:i + chunk] @ train.T
        top, idx = sim.topk(k, dim=1)
        votes = torch.zeros(sim.size(0), num_classes)
        votes.scatter_add_(1, train_labels[idx], (top / temperature).exp())
        out.append(votes)
    return torch.cat(out)


def topk_accuracy(scores, labels, ks=(1, 5)):
    """{'top1': %, 'top5': %} (top-k capped at the number of classes)."""
    order = scores.argsort(dim=1, descending=True)
    hits = {k: int((order[:, :min(k, scores.size(1))] == labels[:, None]).any(1).sum()) for k in ks}
    return {f"top{k}": 100.0 * hits[k] / len(labels) for k in ks}  # exact: a count over the number of images
