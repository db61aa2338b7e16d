"""One torch training loop for every neural reducer: batching, optimiser, schedule, early stop.

Reducers build their ``nn.Module`` and a loss function and call :func:`fit_torch` with
explicit arguments; it returns the per-epoch history (a list of dicts) instead of printing.
"""

import contextlib
import logging
import math
import time

import numpy as np

from ...progress import progress_bar

logger = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "adamw", "sgd")


def _torch():
    import torch

    return torch


def resolve_device(device="auto"):
    """``"auto"`` → ``"cuda"`` if available else ``"cpu"``; anything else is returned checked."""
    torch = _torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available here; use device='cpu' or 'auto'")
    return str(device)


def resolve_seed(random_state):
    """An int seed for torch from ``random_state``, as scikit-learn reads it.

    None: fresh randomness (a seed drawn from the operating system's entropy, different on every
    call). An int: itself (reproducible). A ``numpy.random.Generator`` or ``RandomState``: a seed
    drawn from it. Resolve once per fit and pass the int on, so that every random part of the
    fit (initialisation, batch order, ...) follows from one seed.
    """
    if random_state is None:
        return int(np.random.SeedSequence().entropy % 2**63)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31))
    return int(random_state)


@contextlib.contextmanager
def seeded(random_state):
    """Seed torch's global RNG inside the block and restore it afterwards (for module init).

    ``random_state`` as in :func:`resolve_seed` (None: fresh randomness, not a fixed seed).
    """
    torch = _torch()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(resolve_seed(random_state))
        yield


def make_optimizer(name, parameters, lr, weight_decay=0.0, momentum=0.9):
    """``torch.optim`` optimiser by name: "adam", "adamw" or "sgd" (with momentum)."""
    torch = _torch()
    name = str(name).lower()
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr, weight_decay=weight_decay, momentum=momentum)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")


def fit_torch(model, loss_fn, X, *, steps=None, max_epochs=None, batch_size=128, lr=1e-3, optimizer="adam",
              weight_decay=0.0, parameters=None, scheduler="cosine", X_val=None, patience=None, random_state=0,
              device="cpu", callback=None, verbose=False, desc="training"):
    """Train ``model`` by minibatch gradient descent on ``loss_fn(model, batch)``.

    Parameters
    ----------
    model : torch.nn.Module
        Already on ``device``.
    loss_fn : callable ``(model, xb) -> scalar tensor``
        ``xb`` is a float32 tensor of shape (batch, d) on ``device``.
    X : ndarray, float32, shape (n, d)
        Training vectors (copied to ``device`` once).
    steps : int, optional
        Total optimiser steps (the RAE reference's ``--steps``). One "epoch" in the history is
        one pass over ``X``; the last epoch may be partial.
    max_epochs : int, optional
        Used when ``steps`` is None. Exactly one of ``steps``/``max_epochs`` must be set.
    batch_size : int
        Rows per step; ``batch_size >= n`` gives full-batch steps. The last partial batch of
        each pass is used, not dropped.
    lr : float
    optimizer : {"adam", "adamw", "sgd"}
    weight_decay : float
        Passed to the optimiser (for Adam/SGD this is an L2 term ``wd * θ`` added to the
        gradient of every parameter it sees).
    parameters : iterable or list of param-group dicts, optional
        What the optimiser updates; defaults to ``model.parameters()``.
    scheduler : {"cosine", None}
        Cosine annealing of the learning rate from ``lr`` to 0 over all steps.
    X_val : ndarray, optional
        Validation vectors: ``val_loss`` is logged per epoch (full batch, no grad).
    patience : int, optional
        Early stop after this many epochs without a better ``val_loss`` (needs ``X_val``); the
        best weights are restored.
    random_state : int or None
        Seeds the batch order (a dedicated ``torch.Generator``; the global RNG is untouched);
        None: a fresh order on every call (see :func:`resolve_seed`).
    callback : callable ``(epoch, model) -> dict``, optional
        Extra per-epoch entries for the history (e.g. top-k accuracy).
    verbose : bool
        tqdm progress bar over steps.

    Returns
    -------
    history : list of dict
        One per epoch: ``epoch``, ``step``, ``loss`` (mean training loss over the epoch),
        ``lr``, ``seconds`` (cumulative), ``val_loss`` when ``X_val`` is given, plus the
        callback's entries.
    """
    torch = _torch()
    if (steps is None) == (max_epochs is None):
        raise ValueError(f"give exactly one of steps / max_epochs, got steps={steps}, max_epochs={max_epochs}")
    if patience is not None and X_val is None:
        raise ValueError("patience (early stopping) needs X_val")
    Xt = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32), device=device)
    n = Xt.shape[0]
    if n == 0:
        raise ValueError("X is empty")
    bs = min(int(batch_size), n)
    per_epoch = math.ceil(n / bs)
    total = int(steps) if steps is not None else int(max_epochs) * per_epoch
    if total < 1:
        raise ValueError(f"need at least one training step, got steps={steps}, max_epochs={max_epochs}")
    Xv = None if X_val is None else torch.as_tensor(np.ascontiguousarray(X_val, dtype=np.float32), device=device)

    opt = make_optimizer(optimizer, model.parameters() if parameters is None else parameters, lr, weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total) if scheduler == "cosine" else None
    if scheduler not in ("cosine", None):
        raise ValueError(f"scheduler must be 'cosine' or None, got {scheduler!r}")
    gen = torch.Generator(device="cpu").manual_seed(resolve_seed(random_state))

    bar = None
    if verbose:
        bar = progress_bar(total=total, desc=desc, unit="step")
    history, best, best_state, bad_epochs = [], math.inf, None, 0
    t0, step, epoch = time.perf_counter(), 0, 0
    model.train()
    while step < total:
        perm = torch.randperm(n, generator=gen).to(device) if bs < n else None
        loss_sum, rows = 0.0, 0
        for s in range(0, n, bs):
            if step >= total:
                break
            xb = Xt if perm is None else Xt[perm[s:s + bs]]
            loss = loss_fn(model, xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            step += 1
            loss_sum += float(loss.detach()) * xb.shape[0]
            rows += xb.shape[0]
            if bar is not None:
                bar.update(1)
        epoch += 1
        row = {"epoch": epoch, "step": step, "loss": loss_sum / rows, "lr": opt.param_groups[0]["lr"]}
        if Xv is not None:
            model.eval()
            with torch.no_grad():
                row["val_loss"] = float(loss_fn(model, Xv))
            model.train()
        if callback is not None:
            model.eval()
            row.update(callback(epoch, model) or {})
            model.train()
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        if bar is not None:
            bar.set_postfix(loss=f"{row['loss']:.4g}")
        if patience is not None:
            if row["val_loss"] < best - 1e-12:
                best, bad_epochs = row["val_loss"], 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad_epochs += 1
                if bad_epochs >= patience:
                    logger.info("early stop at epoch %d (best val_loss %.4g)", epoch, best)
                    break
    if bar is not None:
        bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history
