"""NAS-Bench-BERT (Serianni & Kalita, ACL 2023): 500 ELECTRA-small-style encoders from a
FlexiBERT-derived space, pretrained 100k steps and fine-tuned on GLUE; plain torch.

An architecture is a hidden size (128 or 256) and 2 or 4 encoder layers, each with
* an operation: ``SA`` self-attention (parameter ``SDP`` scaled dot-product or ``WMA``
  weighted multiplicative), ``LT`` linear transform (``DFT`` real part of a 2-D Fourier
  transform, ``DCT`` 2-D cosine transform) or ``DSC`` dynamic span-based convolution (kernel
  ``5`` or ``9``, ConvBERT's mixed attention);
* ``num_operation_heads`` 2 or 4, ``feed_forward_dimension`` 512 or 1024, ``num_feed_forward``
  1 or 3 (dense layers of the feed-forward block before its output projection).

Canonical string: ``h256:SA-WMA-4-1024x3,LT-DCT-2-512x3`` (hidden size, then per layer
operation-parameter-heads-width x count). ``parse`` also takes the benchmark's record id
(``17`` or ``id:17``), read from ``BERT_benchmark.json`` (space option ``benchmark_path``).

The network follows the benchmark's PyTorch definition (``modeling_electra.py`` of
aaronserianni/training-free-nas, which pym1024/SWAP_Universal also scores): ELECTRA embeddings
(word + position + token type, 128 wide, LayerNorm, a projection to the hidden size when it
differs), then per layer the operation (SA and DSC followed by a dense + residual LayerNorm, LT
feeding the feed-forward block directly), then the feed-forward block: ``num_feed_forward``
dense layers each followed by GELU, a dense back to the hidden size, residual LayerNorm.
Weights as that code initialises them: Linear/Embedding N(0, 0.02), biases 0, LayerNorm 1/0.

Options:
* ``sizes``: "benchmark" (default) builds the record's ``hidden_size`` and every feed-forward
  dense ``feed_forward_dimension`` wide; "universal" builds every model with hidden size 256 and
  feed-forward width 1024, as the universal SWAP script (and the benchmark authors' own
  training-free metrics) do, ignoring both. (The authors' TensorFlow trainer makes the first
  feed-forward dense ``4 x hidden_size`` wide and the others ``feed_forward_dimension``.)
* ``attention_mask``: "honour" (default) adds -inf-like logits for padded keys in SA and DSC
  attention, as BERT does; "ignore" drops the mask, as the universal script's modified encoder.
  LT mixes all positions, padding included, in both the reference and here.
* ``dropout``: 0.0 by default, so that a score does not depend on a mask drawn at forward time
  (the benchmark trains with 0.1; the universal script scores in train mode with dropout on).
* ``vocab_size`` (30522, BERT's uncased WordPiece), ``max_position`` (512).
* Inputs (``task_batch``): ``tokens`` "zipf" (offline, seeded) or "text" (``text_path`` and
  ``tokenizer_path``), ``seq_len`` (128), ``zipf_exponent``, ``pick``; see
  :func:`search_spaces.tokens.load_tokens`. The network takes ``(N, 2, L)`` int64 (ids, mask)
  or ``(N, L)`` ids (no padding).

The one task, "glue", has the benchmark's scores as metrics (the eight GLUE tasks and their mean
``glue``; ground-truth format ``nasbench_bert``). The encoder has no task head (GLUE heads are
fine-tuned per task), so proxies that need a loss say they are undefined.
"""
from __future__ import annotations

import functools
import json
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Hashable, Sequence

import torch
from torch import nn

from search_spaces.base import ArchParseError, SearchSpace, TaskInfo, derive_seed, register_space, sample_distinct
from search_spaces.ground_truth import GroundTruth, GroundTruthError, register_format
from zc_proxies.errors import UsageError

OPERATIONS: dict[str, tuple] = {"SA": ("SDP", "WMA"), "LT": ("DFT", "DCT"), "DSC": (5, 9)}
HIDDEN_SIZES = (128, 256)
DEPTHS = (2, 4)
HEADS = (2, 4)
FF_DIMS = (512, 1024)
FF_COUNTS = (1, 3)
EMBEDDING_SIZE = 128
UNIVERSAL_HIDDEN, UNIVERSAL_FF = 256, 1024
GLUE_TASKS = ("cola", "mnli", "mrpc", "qnli", "qqp", "rte", "sst", "sts")
METRICS = GLUE_TASKS + ("glue",)
BENCHMARK_URL = ("https://raw.githubusercontent.com/aaronserianni/training-free-nas/"
                 "2d76e01b9586cad7340e8268dadba3056efd070b/data/BERT_benchmark.json")
INIT_STD = 0.02
LN_EPS = 1e-12
_FORM = "h<128|256>:<SA-SDP|SA-WMA|LT-DFT|LT-DCT|DSC-5|DSC-9>-<heads 2|4>-<width 512|1024>x<count 1|3>,... (2 or 4 layers)"


# ----------------------------------------------------------------------------- architectures

@dataclass(frozen=True)
class EncoderLayer:
    op: str
    param: str | int
    heads: int
    ff_dim: int
    ff_count: int

    def __str__(self) -> str:
        return f"{self.op}-{self.param}-{self.heads}-{self.ff_dim}x{self.ff_count}"

    def record(self) -> dict[str, Any]:
        """The layer as the benchmark's ``encoder_layers`` entry."""
        return {"operation_type": self.op, "operation_parameter": self.param, "num_operation_heads": self.heads,
                "feed_forward_dimension": self.ff_dim, "num_feed_forward": self.ff_count}


@dataclass(frozen=True)
class BertArch:
    hidden: int
    layers: tuple[EncoderLayer, ...]

    def __str__(self) -> str:
        return f"h{self.hidden}:" + ",".join(map(str, self.layers))


def _check(arch: BertArch) -> BertArch:
    if arch.hidden not in HIDDEN_SIZES:
        raise ArchParseError(f"hidden size {arch.hidden} is not in NAS-Bench-BERT's {HIDDEN_SIZES}")
    if len(arch.layers) not in DEPTHS:
        raise ArchParseError(f"{len(arch.layers)} encoder layers; NAS-Bench-BERT has {' or '.join(map(str, DEPTHS))}")
    for i, l in enumerate(arch.layers):
        for what, v, allowed in (("operation", l.op, tuple(OPERATIONS)), ("heads", l.heads, HEADS),
                                 ("feed-forward width", l.ff_dim, FF_DIMS), ("feed-forward count", l.ff_count, FF_COUNTS)):
            if v not in allowed:
                raise ArchParseError(f"layer {i}: {what} {v!r} is not one of {allowed}")
        if l.param not in OPERATIONS[l.op]:
            raise ArchParseError(f"layer {i}: {l.op} takes parameter {' or '.join(map(str, OPERATIONS[l.op]))}, "
                                 f"not {l.param!r}")
    return arch


def from_record(record: dict[str, Any], where: str = "record") -> BertArch:
    """The architecture of a ``BERT_benchmark.json`` record (or of its ``model_hparam_overrides``)."""
    try:
        over = record["hparams"]["model_hparam_overrides"] if "hparams" in record else record
        layers = tuple(EncoderLayer(l["operation_type"], l["operation_parameter"], l["num_operation_heads"],
                                    l["feed_forward_dimension"], l["num_feed_forward"])
                       for l in over["nas_config"]["encoder_layers"])
        return _check(BertArch(over["hidden_size"], layers))
    except (KeyError, TypeError) as exc:
        raise ArchParseError(f"{where}: not a NAS-Bench-BERT record (expected hparams.model_hparam_overrides"
                             f"{{hidden_size, nas_config.encoder_layers[...]}}; missing {exc})") from None


_LAYER_RE = re.compile(r"(SA|LT|DSC)-(\w+)-(\d+)-(\d+)x(\d+)")


def parse_string(text: str) -> BertArch:
    m = re.fullmatch(r"h(\d+):(.+)", text)
    if not m:
        raise ArchParseError(f"{text!r} is not a NAS-Bench-BERT architecture; expected {_FORM}, or a record id")
    layers = []
    for part in m.group(2).split(","):
        lm = _LAYER_RE.fullmatch(part.strip())
        if not lm:
            raise ArchParseError(f"{text!r}: layer {part!r} is not <op>-<param>-<heads>-<width>x<count>; expected {_FORM}")
        op, param = lm.group(1), lm.group(2)
        layers.append(EncoderLayer(op, int(param) if param.isdigit() else param, int(lm.group(3)),
                                   int(lm.group(4)), int(lm.group(5))))
    return _check(BertArch(int(m.group(1)), tuple(layers)))


# ----------------------------------------------------------------------------- the benchmark file

def _bad(path: Path, what: str) -> GroundTruthError:
    return GroundTruthError(f"{path}: {what}. Expected NAS-Bench-BERT's BERT_benchmark.json (a JSON list of 500 "
                            f"records with id, scores{{{', '.join(METRICS)}}} and hparams.model_hparam_overrides); "
                            f"`zcbench download nas-bench-bert` fetches it from {BENCHMARK_URL}")


@functools.lru_cache(maxsize=4)
def _read_records(path_str: str, mtime_ns: int, size: int) -> tuple[tuple[int, BertArch, dict[str, float]], ...]:
    path = Path(path_str)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, f"cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise _bad(path, f"is not JSON ({exc})") from None
    if not isinstance(data, list) or not data:
        raise _bad(path, f"holds a {type(data).__name__}" + (" that is empty" if data == [] else "") + ", not a list of records")
    out = []
    for i, rec in enumerate(data):
        where = f"record {i}"
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), int) or not isinstance(rec.get("scores"), dict):
            raise _bad(path, f"{where} has no integer id and scores mapping")
        try:
            arch = from_record(rec, where)
        except ArchParseError as exc:
            raise _bad(path, str(exc)) from None
        scores = {}
        for k in METRICS:
            v = rec["scores"].get(k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise _bad(path, f"{where} (id {rec['id']}): scores.{k} is {v!r}, not a finite number")
            scores[k] = float(v)
        out.append((rec["id"], arch, scores))
    return tuple(out)


def read_records(path) -> tuple[tuple[int, BertArch, dict[str, float]], ...]:
    """``(id, architecture, scores)`` of every record of ``BERT_benchmark.json``, in file order."""
    path = Path(path).expanduser()
    if not path.is_file():
        from search_spaces.ground_truth import GroundTruthNotFoundError

        raise GroundTruthNotFoundError(str(_bad(path, "no such file")))
    st = path.stat()
    return _read_records(str(path.resolve()), st.st_mtime_ns, st.st_size)


@register_format("nasbench_bert", spaces=("nasbench_bert",), suffixes=("BERT_benchmark.json",), url=BENCHMARK_URL)
def read_nasbench_bert(path, space, task: str) -> GroundTruth:
    """NAS-Bench-BERT's BERT_benchmark.json (GLUE scores of 500 pretrained encoders)

    Metrics: the eight GLUE tasks ``cola, mnli, mrpc, qnli, qqp, rte, sst, sts`` and their mean
    ``glue``. Nine architectures appear twice (491 distinct); their scores are averaged.
    """
    path = Path(path)
    if task != "glue":
        raise GroundTruthError(f"{path}: NAS-Bench-BERT's only task is 'glue', not {task!r}")
    values: dict[Hashable, dict[str, float]] = {}
    counts: dict[Hashable, int] = {}
    for _, arch, scores in read_records(path):
        if arch in values:
            n = counts[arch]
            values[arch] = {k: (values[arch][k] * n + scores[k]) / (n + 1) for k in METRICS}
            counts[arch] = n + 1
        else:
            values[arch], counts[arch] = dict(scores), 1
    rows = sum(counts.values())
    return GroundTruth(list(METRICS), values, str(path), n_rows=rows, n_duplicates=rows - len(values))


# ----------------------------------------------------------------------------- the network

def _dct_matrix(n: int) -> torch.Tensor:
    """Unnormalised DCT-II as a matrix: ``y_k = 2 sum_j x_j cos(pi k (2j + 1) / (2n))`` (scipy's
    ``dct(type=2, norm=None)``)."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    j = torch.arange(n, dtype=torch.float64)[None, :]
    return 2 * torch.cos(math.pi * k * (2 * j + 1) / (2 * n))


class Embeddings(nn.Module):
    def __init__(self, vocab: int, max_position: int, dropout: float):
        super().__init__()
        self.word = nn.Embedding(vocab, EMBEDDING_SIZE, padding_idx=0)
        self.position = nn.Embedding(max_position, EMBEDDING_SIZE)
        self.token_type = nn.Embedding(2, EMBEDDING_SIZE)
        self.norm = nn.LayerNorm(EMBEDDING_SIZE, eps=LN_EPS)
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.word(ids) + self.token_type.weight[0] + self.position(pos)[None]
        return self.dropout(self.norm(x))


def _heads(x: torch.Tensor, n: int) -> torch.Tensor:
    """(N, L, n*d) -> (N, n, L, d)."""
    return x.view(x.shape[0], x.shape[1], n, -1).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    """(N, n, L, d) -> (N, L, n*d)."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1)


def _attend(q, k, v, bias, dropout: nn.Dropout):
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if bias is not None:
        scores = scores + bias
    return dropout(scores.softmax(-1)) @ v


class SelfAttention(nn.Module):
    """SA: scaled dot-product (SDP) or weighted multiplicative (WMA: the query times a further
    bias-free hidden x hidden matrix) attention."""

    def __init__(self, hidden: int, heads: int, weighted: bool, dropout: float):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.weight = nn.Linear(hidden, hidden, bias=False) if weighted else None
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, bias):
        q = self.query(x)
        if self.weight is not None:
            q = self.weight(q)
        return _merge(_attend(_heads(q, self.heads), _heads(self.key(x), self.heads),
                              _heads(self.value(x), self.heads), bias, self.dropout))


class SeparableConv1d(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__()
        self.depthwise = nn.Conv1d(c_in, c_in, kernel, groups=c_in, padding=kernel // 2, bias=False)
        self.pointwise = nn.Conv1d(c_in, c_out, 1, bias=False)
        self.bias = nn.Parameter(torch.zeros(c_out, 1))

    def forward(self, x):  # (N, C, L)
        return self.pointwise(self.depthwise(x)) + self.bias


class ConvSelfAttention(nn.Module):
    """DSC: ConvBERT's mixed attention with half the heads (``heads // 2``) self-attention over
    ``hidden // heads``-wide heads and as many span-based dynamic convolution heads."""

    def __init__(self, hidden: int, heads: int, kernel: int, dropout: float):
        super().__init__()
        self.n = max(1, heads // 2)
        self.head_size = hidden // heads
        inner = self.n * self.head_size
        self.kernel = kernel
        self.query, self.key, self.value = (nn.Linear(hidden, inner) for _ in range(3))
        self.key_conv = SeparableConv1d(hidden, inner, kernel)
        self.conv_kernel = nn.Linear(inner, self.n * kernel)
        self.conv_out = nn.Linear(hidden, inner)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, bias):
        b, length, _ = x.shape
        q = self.query(x)
        kc = self.key_conv(x.transpose(1, 2)).transpose(1, 2)
        weights = self.conv_kernel(kc * q).reshape(-1, self.kernel, 1).softmax(1)  # (N L n, k, 1)
        co = self.conv_out(x).transpose(1, 2).unsqueeze(-1)  # (N, inner, L, 1)
        co = nn.functional.unfold(co, (self.kernel, 1), padding=((self.kernel - 1) // 2, 0))  # (N, inner k, L)
        co = co.transpose(1, 2).reshape(-1, self.head_size, self.kernel) @ weights  # (N L n, d, 1)
        conv = co.reshape(b, length, self.n, self.head_size)
        ctx = _attend(_heads(q, self.n), _heads(self.key(x), self.n), _heads(self.value(x), self.n), bias,
                      self.dropout).transpose(1, 2)  # (N, L, n, d)
        return torch.cat([ctx, conv], 2).reshape(b, length, -1)


class LinearTransform(nn.Module):
    """LT: a dense layer, split into heads, then per head the real part of the 2-D DFT (over
    positions and head features, ``torch.fft.fft2``) or the unnormalised 2-D DCT-II."""

    def __init__(self, hidden: int, heads: int, kind: str):
        super().__init__()
        self.heads, self.kind = heads, kind
        self.input = nn.Linear(hidden, hidden)

    def forward(self, x, bias):
        h = _heads(self.input(x), self.heads)  # (N, n, L, d)
        if self.kind == "DFT":
            h = torch.fft.fft2(h).real
        else:
            rows = _dct_matrix(h.shape[-2]).to(h.dtype)
            cols = _dct_matrix(h.shape[-1]).to(h.dtype)
            h = rows @ h @ cols.T
        return _merge(h)


class ResidualNorm(nn.Module):
    """dense -> dropout -> LayerNorm(. + residual)."""

    def __init__(self, c_in: int, hidden: int, dropout: float):
        super().__init__()
        self.dense = nn.Linear(c_in, hidden)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(hidden, eps=LN_EPS)

    def forward(self, x, residual):
        return self.norm(self.dropout(self.dense(x)) + residual)


class Layer(nn.Module):
    def __init__(self, spec: EncoderLayer, hidden: int, ff_dim: int, dropout: float):
        super().__init__()
        if spec.op == "SA":
            self.operation = SelfAttention(hidden, spec.heads, spec.param == "WMA", dropout)
        elif spec.op == "DSC":
            self.operation = ConvSelfAttention(hidden, spec.heads, spec.param, dropout)
        else:
            self.operation = LinearTransform(hidden, spec.heads, spec.param)
        self.operation_output = ResidualNorm(hidden, hidden, dropout) if spec.op != "LT" else None
        self.feed_forward = nn.ModuleList([nn.Linear(hidden, ff_dim)] +
                                          [nn.Linear(ff_dim, ff_dim) for _ in range(spec.ff_count - 1)])
        self.act = nn.GELU()  # one module called after every feed-forward dense, as the reference
        self.output = ResidualNorm(ff_dim, hidden, dropout)

    def forward(self, x, bias):
        a = self.operation(x, bias)
        if self.operation_output is not None:
            a = self.operation_output(a, x)
        h = a
        for dense in self.feed_forward:
            h = self.act(dense(h))
        return self.output(h, a)


class BertEncoder(nn.Module):
    """The NAS-Bench-BERT encoder; returns the last hidden states (N, L, hidden)."""

    def __init__(self, arch: BertArch, *, sizes: str = "benchmark", attention_mask: str = "honour",
                 dropout: float = 0.0, vocab_size: int = 30522, max_position: int = 512):
        super().__init__()
        hidden = arch.hidden if sizes == "benchmark" else UNIVERSAL_HIDDEN
        self.vocab_size, self.max_position = vocab_size, max_position
        self.use_mask = attention_mask == "honour"
        self.embeddings = Embeddings(vocab_size, max_position, dropout)
        self.project = nn.Linear(EMBEDDING_SIZE, hidden) if hidden != EMBEDDING_SIZE else None
        self.layers = nn.ModuleList([Layer(l, hidden, l.ff_dim if sizes == "benchmark" else UNIVERSAL_FF, dropout)
                                     for l in arch.layers])
        self._init_weights()

    def _init_weights(self):
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, (nn.Linear, nn.Embedding, nn.Conv1d)):
                    m.weight.normal_(0.0, INIT_STD)
                    if getattr(m, "bias", None) is not None:
                        m.bias.zero_()
                    if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                        m.weight[m.padding_idx].zero_()
                elif isinstance(m, nn.LayerNorm):
                    m.weight.fill_(1.0)
                    m.bias.zero_()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dtype != torch.int64 or tokens.dim() not in (2, 3) or (tokens.dim() == 3 and tokens.shape[1] != 2):
            raise ValueError(f"the NAS-Bench-BERT encoder takes int64 token ids (N, L) or ids and attention mask "
                             f"(N, 2, L), not a {tuple(tokens.shape)} {tokens.dtype} tensor (image inputs, or a proxy "
                             "that feeds its own float inputs, are not defined here)")
        ids, mask = (tokens[:, 0], tokens[:, 1]) if tokens.dim() == 3 else (tokens, None)
        if ids.shape[1] > self.max_position:
            raise ValueError(f"sequence length {ids.shape[1]} exceeds the encoder's {self.max_position} positions")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.vocab_size):
            raise ValueError(f"token ids must lie in 0..{self.vocab_size - 1}; got {int(ids.min())}..{int(ids.max())}")
        x = self.embeddings(ids)
        if self.project is not None:
            x = self.project(x)
        bias = None
        if self.use_mask and mask is not None:
            bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, bias)
        return x


def _no_head_loss(outputs, targets):
    raise ValueError("NAS-Bench-BERT's encoder has no task head (the benchmark fine-tunes one per GLUE task), so "
                     "proxies that need a loss are undefined on space nasbench_bert")


SIZES = ("benchmark", "universal")
MASKS = ("honour", "ignore")


@register_space("nasbench_bert")
class NasBenchBert(SearchSpace):
    """NAS-Bench-BERT: ELECTRA-small-style encoders, 2 or 4 SA/LT/DSC layers, hidden 128/256; GLUE scores."""

    tasks = {"glue": TaskInfo("glue", 1, (3, 1, 1), loss=_no_head_loss, metric="glue", target="none")}
    small_options = {"seq_len": 12, "vocab_size": 2100}

    def __init__(self, *, sizes: str = "benchmark", attention_mask: str = "honour", dropout: float = 0.0,
                 vocab_size: int = 30522, max_position: int = 512, tokens: str = "zipf", seq_len: int = 128,
                 text_path: str | None = None, tokenizer_path: str | None = None, zipf_exponent: float = 1.0,
                 pick: str = "first", benchmark_path: str = "cache:BERT_benchmark.json"):
        if sizes not in SIZES:
            raise UsageError(f"nasbench_bert option sizes must be one of {SIZES}, not {sizes!r}")
        if attention_mask not in MASKS:
            raise UsageError(f"nasbench_bert option attention_mask must be one of {MASKS}, not {attention_mask!r}")
        if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise UsageError(f"nasbench_bert option dropout must be in [0, 1), not {dropout!r}")
        if not isinstance(seq_len, int) or not 3 <= seq_len <= max_position:
            raise UsageError(f"nasbench_bert option seq_len must be an int in 3..{max_position}, not {seq_len!r}")
        self.sizes, self.attention_mask, self.dropout = sizes, attention_mask, float(dropout)
        self.vocab_size, self.max_position = vocab_size, max_position
        self.tokens, self.seq_len, self.text_path, self.tokenizer_path = tokens, seq_len, text_path, tokenizer_path
        self.zipf_exponent, self.pick, self.benchmark_path = zipf_exponent, pick, benchmark_path

    def space_size(self) -> int:
        per_layer = sum(len(v) for v in OPERATIONS.values()) * len(HEADS) * len(FF_DIMS) * len(FF_COUNTS)
        return len(HIDDEN_SIZES) * sum(per_layer ** d for d in DEPTHS)

    def _draw(self, rng: random.Random) -> BertArch:
        hidden, depth = rng.choice(HIDDEN_SIZES), rng.choice(DEPTHS)
        layers = []
        for _ in range(depth):
            op = rng.choice(tuple(OPERATIONS))
            layers.append(EncoderLayer(op, rng.choice(OPERATIONS[op]), rng.choice(HEADS), rng.choice(FF_DIMS),
                                       rng.choice(FF_COUNTS)))
        return BertArch(hidden, tuple(layers))

    def sample(self, n: int, seed: int) -> list[BertArch]:
        """``n`` distinct architectures of the whole space, drawn with ``random.Random(seed)``:
        hidden size, depth, then per layer operation type, its parameter, heads, width, count,
        each uniform (the benchmark's 500 are such draws; use its file to score those)."""
        rng = random.Random(seed)
        return sample_distinct(lambda: self._draw(rng), n, self.space_size(), "architectures")

    def parse(self, text: Any) -> BertArch:
        if isinstance(text, BertArch):
            return _check(text)
        if isinstance(text, dict):
            return from_record(text)
        if isinstance(text, int) and not isinstance(text, bool):
            return self.by_id(text)
        if not isinstance(text, str):
            raise ArchParseError(f"expected a NAS-Bench-BERT architecture string or id, got {type(text).__name__}")
        s = text.strip()
        m = re.fullmatch(r"(?:id:)?(\d+)", s)
        return self.by_id(int(m.group(1))) if m else parse_string(s)

    def by_id(self, record_id: int) -> BertArch:
        """The architecture of benchmark record ``record_id`` (from ``benchmark_path``)."""
        from search_spaces.data_base import resolve_path

        try:
            records = read_records(resolve_path(self.benchmark_path))
        except (GroundTruthError, OSError, ValueError) as exc:
            raise ArchParseError(f"record id {record_id}: the benchmark file is needed to resolve ids ({exc})") from None
        for rid, arch, _ in records:
            if rid == record_id:
                return arch
        raise ArchParseError(f"record id {record_id} is not in {self.benchmark_path} (ids {records[0][0]}..{records[-1][0]})")

    def build(self, arch: Hashable, task: str) -> BertEncoder:
        self.task(task)
        return BertEncoder(self.parse(arch), sizes=self.sizes, attention_mask=self.attention_mask,
                           dropout=self.dropout, vocab_size=self.vocab_size, max_position=self.max_position)

    def task_batch(self, task: str, x: torch.Tensor, y: torch.Tensor, seed: int,
                   files: Sequence[Path] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Token inputs replace the images: ``len(x)`` sequences from the space's token source
        (:func:`search_spaces.tokens.load_tokens`, seeded by ``seed``) as ``(N, 2, L)`` int64 ids and
        attention mask; the targets are zeros (the encoder has no task head)."""
        from search_spaces.tokens import load_tokens

        self.task(task)
        ids, mask = load_tokens(self.tokens, len(x), seq_len=self.seq_len, vocab_size=self.vocab_size,
                                path=self.text_path, tokenizer=self.tokenizer_path, pick=self.pick,
                                seed=derive_seed(seed, "tokens"), zipf_exponent=self.zipf_exponent)
        return torch.stack([ids, mask], 1), torch.zeros(len(x), dtype=torch.int64)
