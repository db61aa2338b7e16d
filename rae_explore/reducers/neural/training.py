"""One torch training loop for every neural reducer: batching, optimiser, schedule, early stop.

Reducers build their ``nn.Module`` and a loss function and call :func:`fit_torch` with
explicit arguments; it returns the per-epoch history (a list of dicts) instead of printing.
The rows come from a :class:`BatchSource`: copied to the device once when they fit in
``max_device_bytes``, else gathered batch by batch from the host array (a memory map stays
on disk: each batch reads its rows, sorted, and only those).
"""

import contextlib
import logging
import math
import time
import warnings

import numpy as np

from ...progress import progress_bar

logger = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "adamw", "sgd", "riemannian_adam")

#: Above this many bytes the training rows stay on the host and each batch is gathered from them.
DEFAULT_DEVICE_BYTES = 1 << 30


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


def import_geoopt():
    """Import geoopt (the Poincaré ball and Riemannian optimisers) without its TorchScript deprecation notices."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.script, used by geoopt at import
        try:
            import geoopt
        except ImportError as e:  # pragma: no cover - a core dependency
            raise ImportError("HyperAE needs geoopt: pip install geoopt") from e
    return geoopt


def make_optimizer(name, parameters, lr, weight_decay=0.0, momentum=0.9):
    """``torch.optim`` optimiser by name: "adam", "adamw", "sgd" (with momentum) or "riemannian_adam".

    ``"riemannian_adam"`` is geoopt's ``RiemannianAdam`` (Becigneul & Ganea 2019): Adam on
    Euclidean parameters, Riemannian Adam on ``geoopt.ManifoldParameter``s (e.g. points of a
    Poincaré ball).
    """
    torch = _torch()
    name = str(name).lower()
    if name == "riemannian_adam":
        geoopt = import_geoopt()
        return geoopt.optim.RiemannianAdam(parameters, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr, weight_decay=weight_decay, momentum=momentum)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")


class BatchSource:
    """Training rows for :func:`fit_torch`, on the device when they fit, else gathered per batch.

    Parameters
    ----------
    X : ndarray or numpy.memmap, float32, shape (n, d)
    device : str
    max_device_bytes : int
        ``X`` is copied to ``device`` once when ``X.nbytes`` is at most this and it is not a
        memory map; otherwise it stays where it is and :meth:`take` reads the rows of each
        batch (sorted, so a memory map is read forwards) and moves only those.

    Attributes
    ----------
    on_device : bool
    n, d : int
    """

    def __init__(self, X, device="cpu", max_device_bytes=DEFAULT_DEVICE_BYTES):
        torch = _torch()
        self.device = device
        self.n, self.d = X.shape
        self.on_device = not isinstance(X, np.memmap) and X.nbytes <= int(max_device_bytes)
        if self.on_device:
            self.data = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32), device=device)
        else:
            self.data = X

    def take(self, rows):
        """Rows ``rows`` (a CPU LongTensor or int array) as a float32 tensor on the device, in that order."""
        torch = _torch()
        if self.on_device:
            return self.data[torch.as_tensor(rows).to(self.device)]
        rows = np.asarray(rows, dtype=np.int64)
        order = np.argsort(rows, kind="stable")
        block = np.empty((len(rows), self.d), np.float32)
        block[order] = self.data[rows[order]]
        return torch.from_numpy(block).to(self.device)

    def blocks(self, rows, size):
        """``(rows_block, tensor)`` for consecutive blocks of ``rows`` of at most ``size`` rows, the last partial one included."""
        torch = _torch()
        rows = torch.as_tensor(rows, dtype=torch.long)
        for s in range(0, len(rows), size):
            r = rows[s:s + size]
            yield r, self.take(r)


def _split_loss(out):
    """``(loss, parts)`` from a loss function's result: a scalar tensor, or a tensor and a dict of extras."""
    if isinstance(out, tuple):
        loss, parts = out
        return loss, dict(parts)
    return out, {}


def fit_torch(model, loss_fn, X, *, steps=None, max_epochs=None, batch_size=128, lr=1e-3, optimizer="adam",
              weight_decay=0.0, parameters=None, scheduler="cosine", X_val=None, patience=None, random_state=0,
              device="cpu", callback=None, verbose=False, desc="training", rows=None, val_rows=None,
              pass_rows=False, on_step=None, val_batch_size=8192, max_device_bytes=DEFAULT_DEVICE_BYTES,
              lr_schedule=None):
    """Train ``model`` by minibatch gradient descent on ``loss_fn(model, batch)``.

    Parameters
    ----------
    model : torch.nn.Module
        Already on ``device``.
    loss_fn : callable ``(model, xb) -> loss`` or ``(model, xb, rows) -> loss``
        ``xb`` is a float32 tensor of shape (batch, d) on ``device``; ``rows`` (with
        ``pass_rows``) a CPU LongTensor of the batch's row numbers in ``X``. ``loss`` is a
        scalar tensor, or ``(scalar tensor, dict of floats)``: the dict's entries are averaged
        over the epoch into the history (e.g. the terms of a composite loss). ``model.training``
        is False when it is called for the validation loss.
    X : ndarray (float32, shape (n, d)), numpy.memmap or BatchSource
        Training vectors: copied to ``device`` once if they fit in ``max_device_bytes`` (and are
        not a memory map), else gathered per batch (see :class:`BatchSource`).
    steps : int, optional
        Total optimiser steps (the RAE reference's ``--steps``). One "epoch" in the history is
        one pass over the training rows; the last epoch may be partial.
    max_epochs : int, optional
        Used when ``steps`` is None. Exactly one of ``steps``/``max_epochs`` must be set.
    batch_size : int
        Rows per step; ``batch_size >= n`` gives full-batch steps. The last partial batch of
        each pass is used, not dropped.
    lr : float
    optimizer : {"adam", "adamw", "sgd", "riemannian_adam"}
    weight_decay : float
        Passed to the optimiser (for Adam/SGD this is an L2 term ``wd * θ`` added to the
        gradient of every parameter it sees).
    parameters : iterable or list of param-group dicts, optional
        What the optimiser updates; defaults to ``model.parameters()``.
    scheduler : {"cosine", None}
        Cosine annealing of the learning rate from ``lr`` to 0 over all steps.
    lr_schedule : callable ``(epoch) -> float``, optional
        A per-epoch learning rate instead: called with the epoch number (from 0) before each
        pass and set on every parameter group, one optimiser throughout (so SGD's momentum
        carries over between stages of a stepped schedule). Needs ``scheduler=None``.
    X_val : ndarray, optional
        Validation vectors: ``val_loss`` is logged per epoch (no grad, in blocks of
        ``val_batch_size`` rows, averaged by rows).
    patience : int, optional
        Early stop after this many epochs without a better ``val_loss`` (needs ``X_val`` or
        ``val_rows``); the best weights are restored.
    random_state : int or None
        Seeds the batch order (a dedicated ``torch.Generator``; the global RNG is untouched);
        None: a fresh order on every call (see :func:`resolve_seed`).
    callback : callable ``(epoch, model) -> dict``, optional
        Extra per-epoch entries for the history (e.g. top-k accuracy).
    verbose : bool
        tqdm progress bar over steps.
    rows : int array, optional
        The rows of ``X`` to train on (default all): a held-out slice stays out of the batches.
    val_rows : int array, optional
        Rows of ``X`` for the validation loss (instead of ``X_val``).
    pass_rows : bool
        Call ``loss_fn(model, xb, rows)`` (for losses that look up per-row data: neighbours,
        cluster targets).
    on_step : callable ``(step, model) -> bool``, optional
        Called before every optimiser step (``step`` counts from 0); a true result stops
        training there (e.g. DCEC's target update and its label-change stop).
    val_batch_size : int
    max_device_bytes : int
        See :class:`BatchSource`.

    Returns
    -------
    history : list of dict
        One per epoch: ``epoch``, ``step``, ``loss`` (mean training loss over the epoch),
        ``lr``, ``seconds`` (cumulative), ``epoch_seconds``, ``val_loss`` when validating, the
        loss's extra terms (epoch means) and the callback's entries.
    """
    torch = _torch()
    if (steps is None) == (max_epochs is None):
        raise ValueError(f"give exactly one of steps / max_epochs, got steps={steps}, max_epochs={max_epochs}")
    if patience is not None and X_val is None and val_rows is None:
        raise ValueError("patience (early stopping) needs X_val or val_rows")
    if X_val is not None and val_rows is not None:
        raise ValueError("give X_val or val_rows, not both")
    if scheduler not in ("cosine", None):
        raise ValueError(f"scheduler must be 'cosine' or None, got {scheduler!r}")
    if lr_schedule is not None:
        if not callable(lr_schedule):
            raise TypeError(f"lr_schedule must be a callable (epoch) -> learning rate, got "
                            f"{type(lr_schedule).__name__}")
        if scheduler is not None:
            raise ValueError(f"lr_schedule sets the learning rate of every epoch; pass scheduler=None with it "
                             f"(got scheduler={scheduler!r})")
    src = X if isinstance(X, BatchSource) else BatchSource(X, device, max_device_bytes)
    train_rows = torch.arange(src.n) if rows is None else torch.as_tensor(np.asarray(rows), dtype=torch.long)
    n = len(train_rows)
    if n == 0:
        raise ValueError("X is empty")
    bs = min(int(batch_size), n)
    per_epoch = math.ceil(n / bs)
    total = int(steps) if steps is not None else int(max_epochs) * per_epoch
    if total < 1:
        raise ValueError(f"need at least one training step, got steps={steps}, max_epochs={max_epochs}")
    val_src, v_rows = None, None
    if X_val is not None:
        val_src = BatchSource(np.ascontiguousarray(X_val, dtype=np.float32), device, max_device_bytes)
        v_rows = torch.arange(val_src.n)
    elif val_rows is not None:
        val_src, v_rows = src, torch.as_tensor(np.asarray(val_rows), dtype=torch.long)
        if len(v_rows) == 0:
            val_src, v_rows = None, None

    def call(m, xb, r):
        return _split_loss(loss_fn(m, xb, r) if pass_rows else loss_fn(m, xb))

    def validate():
        model.eval()
        total_loss, count = 0.0, 0
        with torch.no_grad():
            for r, xb in val_src.blocks(v_rows, max(int(val_batch_size), 1)):
                total_loss += float(call(model, xb, r)[0]) * len(r)
                count += len(r)
        model.train()
        return total_loss / count

    opt = make_optimizer(optimizer, model.parameters() if parameters is None else parameters, lr, weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total) if scheduler == "cosine" else None
    gen = torch.Generator(device="cpu").manual_seed(resolve_seed(random_state))

    bar = None
    if verbose:
        bar = progress_bar(total=total, desc=desc, unit="step")
    history, best, best_state, bad_epochs = [], math.inf, None, 0
    t0, step, epoch, stop = time.perf_counter(), 0, 0, False
    model.train()
    while step < total and not stop:
        te = time.perf_counter()
        if lr_schedule is not None:
            epoch_lr = float(lr_schedule(epoch))
            if not math.isfinite(epoch_lr) or epoch_lr < 0:
                raise ValueError(f"lr_schedule({epoch}) gave {epoch_lr!r}; a learning rate must be finite and >= 0")
            for group in opt.param_groups:
                group["lr"] = epoch_lr
        perm = train_rows[torch.randperm(n, generator=gen)] if bs < n else train_rows
        loss_sum, rows_seen, parts_sum = 0.0, 0, {}
        for s in range(0, n, bs):
            if step >= total:
                break
            if on_step is not None and on_step(step, model):
                stop = True
                break
            r = perm[s:s + bs]
            xb = src.take(r)
            loss, parts = call(model, xb, r)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            step += 1
            loss_sum += float(loss.detach()) * len(r)
            for key, v in parts.items():
                parts_sum[key] = parts_sum.get(key, 0.0) + float(v) * len(r)
            rows_seen += len(r)
            if bar is not None:
                bar.update(1)
        if rows_seen == 0:
            break
        epoch += 1
        row = {"epoch": epoch, "step": step, "loss": loss_sum / rows_seen, "lr": opt.param_groups[0]["lr"]}
        row.update({key: v / rows_seen for key, v in parts_sum.items()})
        if val_src is not None:
            row["val_loss"] = validate()
        if callback is not None:
            model.eval()
            row.update(callback(epoch, model) or {})
            model.train()
        row["seconds"] = time.perf_counter() - t0
        row["epoch_seconds"] = time.perf_counter() - te
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
