"""``rae-explore train``: train and evaluate RAE with the reference code's flags.

A user of the RAE reference (github.com/explorerZH/RAE-KDD2026, ``python code/train.py ...``)
can switch by changing the command name: the same flags are accepted and the result JSON has
the same top-level keys (``args``, ``final_train_accuracy``, ``final_val_accuracy``; accuracies
as ``{"top1": ..., "top5": ...}`` fractions). ``--dataset NAME`` uses a built-in dataset
(``rae-explore datasets``) instead of ``--dataset_type`` files.

Differences, on purpose: under ``--distance_metric cosine`` the model is always trained on
L2-normalised vectors (the reference trains on raw vectors unless ``--if_normalize true``,
while it evaluates on normalised ones); the learning rate is cosine-annealed per step to 0
(the reference: per epoch, to ``lr/100``); the run takes exactly ``--steps`` steps; top-k accuracy
is computed once, after training, so ``--eval_interval`` is accepted (and stored under ``args``)
but ignored.
"""

import ast
import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

# --dataset_type (+ --embedding_model_type) of the reference -> our registry names
REFERENCE_DATASETS = {
    ("CelebA", "CLIP(VIT)"): "celeba-clip",
    ("imdb", "mpnet"): "imdb-mpnet",
    ("ImageNet", "DINOv2"): "imagenet-dinov2",
    ("flickr30k", "CLIP(VIT)"): "flickr30k-clip",
}
METRICS = {"cosine": "cosine", "euclidean": "l2"}
#: What still differs from the reference with --split reference (shown in --help).
REFERENCE_DIFFERENCES = (
    "Remaining deliberate differences: cosine vectors are normalised as x/||x|| (the reference: x/(||x||+1e-8)); "
    "train (RAE): under cosine the model trains on normalised vectors (the reference: raw unless --if_normalize "
    "true), the learning rate is cosine-annealed per step to 0 (the reference: per epoch to lr/100) and top-k "
    "accuracy is computed once after training; SIFT1B keeps its given queries (no split). As in the reference, "
    "top-k accuracy is scored by ids: a neighbour tied with the k-th counts as a miss (evaluate() and sweep "
    "count it as a hit)."
)


def _bool(x):
    return str(x).lower() == "true"


def _int_list(s):
    try:
        v = ast.literal_eval(s) if isinstance(s, str) else s
        v = [int(k) for k in (v if isinstance(v, (list, tuple)) else [v])]
    except (ValueError, SyntaxError, TypeError):
        raise ValueError(f"expected a list of integers like '[1,5,10,20,50]', got {s!r}") from None
    return v


def add_reference_arguments(p, *, baseline=False):
    """The reference's ``config.py`` flags (same names and defaults) plus ``--dataset``/``--out``."""
    g = p.add_argument_group("reference flags (code/config.py of the RAE reference)")
    g.add_argument("--data_path", default="./data", help="root holding the dataset folders (default ./data)")
    g.add_argument("--output_dim", type=int, default=256, help="reduced dimension m (default 256)")
    g.add_argument("--dataset_type", default="CelebA", choices=["CelebA", "imdb", "ImageNet", "flickr30k", "SIFT1B"])
    g.add_argument("--embedding_model_type", default="CLIP(VIT)",
                   help="embedding sub-folder: CLIP(VIT) for CelebA/flickr30k, mpnet for imdb, DINOv2 for ImageNet")
    g.add_argument("--num_samples", type=int, default=None,
                   help="vectors used before the 90/10 split (reference default 10000; with --dataset: all)")
    g.add_argument("--num_train_samples", type=int, default=30000, help="SIFT1B: training vectors (learn.bvecs)")
    g.add_argument("--num_val_samples", type=int, default=10000, help="SIFT1B: query vectors (queries.bvecs)")
    g.add_argument("--num_base_samples", type=int, default=None, help="SIFT1B: base size (default: the whole file)")
    g.add_argument("--distance_metric", default="cosine", choices=["cosine", "euclidean"])
    g.add_argument("--hidden_dims", default="[]", help="only [] (the linear RAE) is supported")
    g.add_argument("--dropout", type=float, default=0.0, help="unused by the linear RAE")
    g.add_argument("--activation", default="tanh", choices=["relu", "tanh", "sigmoid"], help="unused by the linear RAE")
    g.add_argument("--batch_size", type=int, default=128)
    g.add_argument("--steps", type=int, default=3000)
    g.add_argument("--lr", type=float, default=1e-3)
    g.add_argument("--weight_decay", type=float, default=0.0, help="penalty weight lambda (RAE's alpha)")
    g.add_argument("--optimizer", default="Adam", choices=["Adam", "AdamW", "SGD"])
    g.add_argument("--topk_eval", default="[1,5,10,20,50]", help="k values of the top-k accuracy")
    g.add_argument("--eval_interval", type=int, default=5,
                   help="accepted for compatibility with the reference's command lines and ignored: top-k "
                        "accuracy is computed once, after training, for the result JSON (no periodic evaluation)")
    if baseline:
        g.add_argument("--method", default="PCA", type=str.upper,
                       choices=["PCA", "UMAP", "ISOMAP", "MDS", "RP", "LPP"])
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    g.add_argument("--num_workers", type=int, default=0, help="unused (no DataLoader workers)")
    g.add_argument("--save_dir", default="./checkpoints")
    g.add_argument("--save_last_model", type=_bool, default=False)
    g.add_argument("--if_normalize", type=_bool, default=False,
                   help="accepted for compatibility; under cosine we always train on normalised vectors")
    g.add_argument("--precision", default="float32", choices=["float16", "float32"], help="unused (float32)")
    g.add_argument("--use_wandb", type=_bool, default=False, help="not supported (ignored with a warning)")
    g.add_argument("--wandb_project", default="rae")
    g.add_argument("--wandb_entity", default=None)
    o = p.add_argument_group("rae-explore options")
    o.add_argument("--dataset", help="a built-in dataset name (see `rae-explore datasets`) or a vector file; "
                                     "overrides --dataset_type")
    o.add_argument("--out", help="result JSON path (default: the reference's location)")
    o.add_argument("--split", default="random", choices=["random", "reference"],
                   help="base/query split: 'random' (numpy's seeded permutation, our default) or 'reference' "
                        "(the reference's Python random.shuffle with --seed: its flags give its split, row for row). "
                        + REFERENCE_DIFFERENCES)


def load_reference_dataset(args):
    """The Dataset the reference would use for these flags (and a label for file names)."""
    import dataclasses

    import numpy as np

    from ...data.datasets import load_dataset

    metric = METRICS[args.distance_metric]
    if args.dataset:
        # --data_path keeps its reference default unless given: built-ins live in the repository's data/
        data_dir = None if args.data_path == "./data" else args.data_path
        ds = load_dataset(args.dataset, data_dir, n_samples=args.num_samples, seed=args.seed, metric=metric,
                          split=args.split)
        return ds, ds.name, False
    if args.dataset_type == "SIFT1B":
        ds = load_dataset("sift1b", args.data_path, n_base=args.num_base_samples, n_query=args.num_val_samples,
                          metric=metric)
        xt = np.ascontiguousarray(ds.xb[: args.num_train_samples], dtype=np.float32)
        return dataclasses.replace(ds, xt=xt), "SIFT1B", True
    key = (args.dataset_type, args.embedding_model_type)
    if key not in REFERENCE_DATASETS:
        known = ", ".join(f"{a} + {b}" for a, b in REFERENCE_DATASETS)
        raise ValueError(f"--dataset_type {args.dataset_type} with --embedding_model_type {args.embedding_model_type!r} "
                         f"has no loader; known combinations: {known} (or use --dataset)")
    ds = load_dataset(REFERENCE_DATASETS[key], args.data_path, n_samples=args.num_samples or 10000, seed=args.seed,
                      metric=metric, split=args.split)
    return ds, f"{args.dataset_type}_{args.embedding_model_type}", False


def check_reference_args(args):
    """Reject what the linear RAE cannot do; warn about accepted-but-unused flags."""
    if _int_list(args.hidden_dims):
        raise ValueError(f"--hidden_dims {args.hidden_dims}: only the linear RAE (hidden_dims=[]) is implemented; "
                         "nonlinear autoencoders live in rae_explore.reducers.neural.autoencoders")
    if args.use_wandb:
        logger.warning("--use_wandb true is not supported; the results go to the JSON file only")
    args.topk_eval = _int_list(args.topk_eval)


def accuracy_dict(row, prefix=""):
    """Our row's ``{prefix}top_k@k`` columns as the reference's ``{"top1": ...}`` dict."""
    out = {}
    for key, v in row.items():
        if key.startswith(prefix + "top_k@"):
            out[f"top{key.split('@')[1]}"] = v
    return out


def reference_args(args):
    """``vars(args)`` without the dispatch function (what the reference stores under "args")."""
    return {k: v for k, v in vars(args).items() if k != "func"}


def write_json(path, obj):
    """Atomically write ``obj`` as indented JSON."""
    from ...atomic import atomic_write

    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=2, default=str)


def register(sub):
    p = sub.add_parser("train", help="train + evaluate RAE (the reference train.py's flags)",
                       description=__doc__.split("\n\n")[0])
    add_reference_arguments(p)
    o = p.add_argument_group("RAE options (beyond the reference)")
    o.add_argument("--penalty", default="all", choices=["all", "encoder"],
                   help="weight decay on every parameter (the reference) or on W_e only (Eq. 7)")
    o.add_argument("--bias", type=_bool, default=True, help="biases in encoder/decoder (default true, as the reference)")
    o.add_argument("--solver", default="adam", choices=["adam", "closed_form"])
    o.add_argument("--init", default="random", choices=["random", "closed_form"])
    p.set_defaults(func=run)


def run(args):
    from ...experiments.evaluate import evaluate
    from ...reducers.rae import RAE

    check_reference_args(args)
    ds, label, given = load_reference_dataset(args)
    rae = RAE(args.output_dim, alpha=args.weight_decay, penalty=args.penalty, bias=args.bias, solver=args.solver,
              optimizer=args.optimizer.lower(), steps=args.steps, lr=args.lr, batch_size=args.batch_size,
              init=args.init, device=args.device, random_state=args.seed, verbose=args.verbose)
    row = evaluate(rae, ds, args.topk_eval, recalls=(), self_eval=not given,
                   ties=False)
    out = {
        "args": reference_args(args),
        "final_train_accuracy": None if given else accuracy_dict(row, "train_"),
        "final_val_accuracy": accuracy_dict(row),
    }
    path = Path(args.out) if args.out else (
        Path(args.save_dir) / f"{label}_{args.num_samples or ('all' if args.dataset else 10000)}"
        / f"{args.output_dim}d_{args.distance_metric}_{args.optimizer}_{args.weight_decay}_normalize{args.if_normalize}_results.json"
    )
    write_json(path, out)
    if args.save_last_model:
        mpath = path.with_name(path.name.replace("_results.json", "_model.npz"))
        from ...data.formats import save_npz

        save_npz(mpath, encoder_weight=rae.components_, encoder_bias=rae.intercept_, decoder_weight=rae.decoder_,
                 decoder_bias=rae.decoder_intercept_)
    val = out["final_val_accuracy"]
    print(f"{ds.name}: RAE {ds.d}->{args.output_dim} fit {row['fit_s']:.2f}s, "
          f"val {', '.join(f'{k}={v:.4f}' for k, v in val.items())}, cond {row['condition_number']:.3g} -> {path}")
    return 0
