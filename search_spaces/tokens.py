"""Token inputs for language models (the ``nasbench_bert`` space): seeded Zipf-distributed
word ids, or lines of a text file through a HF ``tokenizers`` file."""
from __future__ import annotations

import os

import numpy as np
import torch

from search_spaces.data_base import PICKS, DataError, DataNotFoundError, pick_indices, resolve_path

TOKEN_SOURCES: tuple[str, ...] = ("zipf", "text")
#: BERT/ELECTRA uncased WordPiece ids (google/electra-small-discriminator's vocab.txt).
BERT_PAD, BERT_CLS, BERT_SEP = 0, 101, 102
#: first id after the special and ``[unused]`` tokens and the single characters of that
#: vocabulary: from here on its whole words come roughly in corpus-frequency order ("the" = 1996)
BERT_FIRST_WORD = 1996


def load_tokens(source: str, n: int, *, seq_len: int = 128, vocab_size: int = 30522,
                path: str | os.PathLike | None = None, tokenizer: str | os.PathLike | None = None,
                pick: str = "first", seed: int = 0, zipf_exponent: float = 1.0,
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` token sequences: ``(ids, mask)``, both int64 ``(n, L)``; ``mask`` is 1 on real
    tokens and 0 on padding, ``L <= seq_len``.

    source "zipf" (the offline default; downloads nothing): every sequence is ``[CLS]``, then
      ``seq_len - 2`` word ids drawn i.i.d. from a Zipf law over the vocabulary's words, then
      ``[SEP]``; no padding (the universal SWAP script's OpenWebText documents are nearly all
      longer than its 512-token limit, so they are not padded either). Word of rank ``r`` (1 =
      most frequent) is id ``BERT_FIRST_WORD + r - 1`` with probability proportional to
      ``r ** -zipf_exponent``, drawn with ``np.random.default_rng(seed)``. Why Zipf: at
      initialisation the embedding rows are i.i.d., so *which* ids a batch holds does not matter
      to a training-free score, only *how the tokens repeat* within and across sequences, and
      natural text repeats its words by Zipf's law with an exponent near 1. Uniform ids would
      almost never repeat; a shipped corpus would need a shipped tokenizer and a licence.
    source "text": the non-empty lines of the UTF-8 text file ``path`` are the documents
      (``pick`` "first": the first ``n`` in file order; "random": a seeded subset); each is
      tokenised by the HF ``tokenizers`` file ``tokenizer`` (a ``tokenizer.json``, e.g. the
      electra-small-discriminator one the universal SWAP script uses, with its own special
      tokens), truncated to ``seq_len`` and padded to the longest (with its ``[PAD]`` id, else 0), as
      ``DataCollatorWithPadding(padding="longest")`` does. Needs the optional package
      ``tokenizers`` (``pip install zcbench[text]``).
    Every id must be below ``vocab_size``.
    """
    if source not in TOKEN_SOURCES:
        raise DataError(f"unknown token source {source!r}; valid sources: {', '.join(TOKEN_SOURCES)}")
    for name, v, low in (("n", n, 1), ("seq_len", seq_len, 3), ("vocab_size", vocab_size, BERT_FIRST_WORD + 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise DataError(f"{name} must be an int >= {low}, got {v!r}")
    if source == "zipf":
        if not isinstance(zipf_exponent, (int, float)) or not zipf_exponent > 0:
            raise DataError(f"zipf_exponent must be a positive number, got {zipf_exponent!r}")
        ranks = np.arange(1, vocab_size - BERT_FIRST_WORD + 1, dtype=np.float64)
        p = ranks ** -float(zipf_exponent)
        p /= p.sum()
        words = np.random.default_rng(int(seed)).choice(ranks.size, size=(n, seq_len - 2), p=p) + BERT_FIRST_WORD
        ids = np.concatenate([np.full((n, 1), BERT_CLS), words, np.full((n, 1), BERT_SEP)], axis=1)
        return torch.from_numpy(ids.astype(np.int64)), torch.ones(n, seq_len, dtype=torch.int64)
    return _text_tokens(path, tokenizer, int(n), int(seq_len), int(vocab_size), pick, int(seed))


def _text_tokens(path, tokenizer, n: int, seq_len: int, vocab_size: int, pick: str, seed: int):
    if path is None or tokenizer is None:
        raise DataError("token source 'text' needs both a text file (text_path) and a tokenizers file "
                        "(tokenizer_path, a HF tokenizer.json)")
    if pick not in PICKS:
        raise DataError(f"unknown pick {pick!r}; valid picks: {', '.join(PICKS)}")
    path, tok_path = resolve_path(path), resolve_path(tokenizer)
    for p, what in ((path, "text file (one document per non-empty line)"), (tok_path, "HF tokenizers file (tokenizer.json)")):
        if not p.is_file():
            raise DataNotFoundError(f"{p}: no such file; expected a {what}")
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise DataError("token source 'text' needs the optional package tokenizers: "
                        "pip install 'zcbench[text]' (or pip install tokenizers)") from None
    try:
        tok = Tokenizer.from_file(str(tok_path))
    except Exception as exc:  # the library raises its own exception type
        raise DataError(f"{tok_path}: not a HF tokenizers file ({exc})") from None
    try:
        docs = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
    if len(docs) < n:
        raise DataError(f"{path} holds {len(docs)} non-empty lines (documents); {n} are needed")
    keep = pick_indices(len(docs), n, pick, seed, "documents")
    docs = docs if keep is None else [docs[i] for i in keep]
    tok.no_padding()
    tok.enable_truncation(seq_len)
    encs = tok.encode_batch(docs[:n])
    longest = max(len(e.ids) for e in encs)
    pad = tok.token_to_id("[PAD]")
    pad = 0 if pad is None else pad
    ids = torch.full((n, longest), pad, dtype=torch.int64)
    mask = torch.zeros(n, longest, dtype=torch.int64)
    for i, e in enumerate(encs):
        ids[i, :len(e.ids)] = torch.tensor(e.ids, dtype=torch.int64)
        mask[i, :len(e.ids)] = 1
    if int(ids.max()) >= vocab_size:
        raise DataError(f"{tok_path} gives token id {int(ids.max())}, beyond the encoder's vocabulary of {vocab_size}; "
                        "use a tokenizer with that vocabulary (NAS-Bench-BERT: the 30522-word uncased BERT WordPiece)")
    return ids, mask
